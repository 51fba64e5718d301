// tapezoo coursework: the exception a stubbed task throws. `./zoo exercise new` replaces the code
// of every task region (// TASK id function: … // END TASK) it hands out by one statement,
//   throw ::tz::NotImplemented("6.1", "elbo_from", "models/vae.cpp");
// which compiles as the whole body of any function, whatever it returns. Above it, a line
// `(void)tape, (void)x, …;` names the parameters the stub leaves unused, so that the student's
// first build has no warning. The grader scores it 0 ("not written yet"), doctest reports it as a
// failed test, the tutorials stop and name the task.
#pragma once

#include <stdexcept>
#include <string>

namespace tz {

class NotImplemented : public std::logic_error {
 public:
  NotImplemented(const std::string& task, const std::string& function, const std::string& file)
      : std::logic_error("task " + task + " " + function + " is not written yet: " + file),
        task_(task), function_(function), file_(file) {}
  const std::string& task() const { return task_; }
  const std::string& function() const { return function_; }
  const std::string& file() const { return file_; }

 private:
  std::string task_, function_, file_;
};

}  // namespace tz
