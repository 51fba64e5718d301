// tapezoo coursework: the checks of each part, and the helpers they share. Inputs are fixed
// numbers written here, so a student can read them; see coursework/grader.hpp for the rules.
#pragma once

#include <vector>

#include "autograd/ops.hpp"
#include "coursework/grader.hpp"

namespace tz::coursework {

std::vector<Check> ops_checks();    // parts 1 and 2 (coursework/checks/checks_ops.cpp)
std::vector<Check> mle_checks();    // part 3 (coursework/checks/checks_mle.cpp)
std::vector<Check> gmm_checks();    // part 4 (coursework/checks/checks_gmm.cpp)
std::vector<Check> dist_checks();   // parts 5 and 7.1 (coursework/checks/checks_dist.cpp)
std::vector<Check> model_checks();  // parts 6–9 (coursework/checks/checks_models.cpp, checks_supervised.cpp)

using A = Array<double>;
using V = Var<double>;

// The values of an array, flat, row-major.
std::vector<double> flat(const A& a);

}  // namespace tz::coursework
