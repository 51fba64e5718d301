// tapezoo: the constants the densities share, defined once.
#pragma once

namespace tz {

// log 2π, the normalising constant of a Gaussian: log N(x; m, v) = −½ (log 2π + log v + (x − m)²/v).
inline constexpr double kLog2Pi = 1.8378770664093454835606594728112;

}  // namespace tz
