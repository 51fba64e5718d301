// tapezoo: line and scatter plots (see plot.hpp).
#include "io/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "io/font.hpp"

namespace tz {

namespace {

constexpr Rgb white{255, 255, 255};
constexpr Rgb ink_color{40, 40, 40};
constexpr Rgb frame_color{90, 90, 90};
constexpr Rgb grid_color{228, 228, 228};
constexpr int tick_len = 5;

// ---- a small RGB canvas ------------------------------------------------------------------------

class Canvas {
 public:
  Canvas(std::size_t w, std::size_t h) : img_(w, h, 3, 255) {}
  int width() const { return static_cast<int>(img_.width); }
  int height() const { return static_cast<int>(img_.height); }
  Image take() { return std::move(img_); }

  void blend(int x, int y, Rgb c, double alpha) {
    if (x < 0 || y < 0 || x >= width() || y >= height() || !(alpha > 0)) return;
    std::uint8_t* p = img_.at(static_cast<std::size_t>(x), static_cast<std::size_t>(y));
    if (alpha >= 1) {
      p[0] = c.r, p[1] = c.g, p[2] = c.b;
      return;
    }
    const auto mix = [alpha](std::uint8_t dst, std::uint8_t src) {
      return static_cast<std::uint8_t>(std::lround(dst + alpha * (src - dst)));
    };
    p[0] = mix(p[0], c.r), p[1] = mix(p[1], c.g), p[2] = mix(p[2], c.b);
  }

  void fill_rect(int x0, int y0, int x1, int y1, Rgb c) {  // [x0, x1) x [y0, y1)
    for (int y = std::max(y0, 0); y < std::min(y1, height()); ++y)
      for (int x = std::max(x0, 0); x < std::min(x1, width()); ++x) blend(x, y, c, 1.0);
  }
  void hline(int x0, int x1, int y, Rgb c) { fill_rect(x0, y, x1 + 1, y + 1, c); }
  void vline(int x, int y0, int y1, Rgb c) { fill_rect(x, y0, x + 1, y1 + 1, c); }
  void rect_outline(int x0, int y0, int x1, int y1, Rgb c) {
    hline(x0, x1, y0, c), hline(x0, x1, y1, c), vline(x0, y0, y1, c), vline(x1, y0, y1, c);
  }

  // An antialiased disc; pixel centres are at integer + 0.5.
  void disc(double cx, double cy, double r, Rgb c) {
    const int x0 = static_cast<int>(std::floor(cx - r - 1)), x1 = static_cast<int>(std::ceil(cx + r + 1));
    const int y0 = static_cast<int>(std::floor(cy - r - 1)), y1 = static_cast<int>(std::ceil(cy + r + 1));
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) {
        const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
        blend(x, y, c, std::clamp(r + 0.5 - d, 0.0, 1.0));
      }
  }

  void text(int x, int y, const std::string& s, Rgb c, int scale = 1) {
    int pos = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const unsigned char u = static_cast<unsigned char>(s[i]);
      if ((u & 0xC0) == 0x80) continue;  // UTF-8 continuation byte: one '?' per code point
      const char ch = u < 0x80 ? s[i] : '?';
      for (int row = 0; row < font::glyph_height; ++row)
        for (int col = 0; col < font::glyph_width; ++col)
          if (font::ink(ch, col, row))
            fill_rect(x + (pos * font::advance + col) * scale, y + row * scale,
                      x + (pos * font::advance + col + 1) * scale, y + (row + 1) * scale, c);
      ++pos;
    }
  }
  // Rotated a quarter turn counter-clockwise: reads upwards, starting at (x, y_bottom).
  void text_up(int x, int y_bottom, const std::string& s, Rgb c) {
    int pos = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const unsigned char u = static_cast<unsigned char>(s[i]);
      if ((u & 0xC0) == 0x80) continue;
      const char ch = u < 0x80 ? s[i] : '?';
      for (int row = 0; row < font::glyph_height; ++row)
        for (int col = 0; col < font::glyph_width; ++col)
          if (font::ink(ch, col, row)) blend(x + row, y_bottom - (pos * font::advance + col), c, 1.0);
      ++pos;
    }
  }
  static int text_width(const std::string& s, int scale = 1) {
    int n = 0;
    for (unsigned char u : s)
      if ((u & 0xC0) != 0x80) ++n;
    return n == 0 ? 0 : (n * font::advance - 1) * scale;
  }

 private:
  Image img_;
};

// Coverage of a polyline, accumulated as the maximum over its segments so that joins are not
// painted twice; then composited once in one colour.
class CoverageMask {
 public:
  CoverageMask(int x0, int y0, int x1, int y1) : x0_(x0), y0_(y0), w_(x1 - x0), h_(y1 - y0), m_(std::size_t(w_) * h_, 0.f) {}

  void segment(double ax, double ay, double bx, double by, double width) {
    const double half = width / 2 + 0.5;
    const int xa = std::max(x0_, static_cast<int>(std::floor(std::min(ax, bx) - half)));
    const int xb = std::min(x0_ + w_ - 1, static_cast<int>(std::ceil(std::max(ax, bx) + half)));
    const int ya = std::max(y0_, static_cast<int>(std::floor(std::min(ay, by) - half)));
    const int yb = std::min(y0_ + h_ - 1, static_cast<int>(std::ceil(std::max(ay, by) + half)));
    const double dx = bx - ax, dy = by - ay, len2 = dx * dx + dy * dy;
    for (int y = ya; y <= yb; ++y)
      for (int x = xa; x <= xb; ++x) {
        const double px = x + 0.5 - ax, py = y + 0.5 - ay;
        const double t = len2 > 0 ? std::clamp((px * dx + py * dy) / len2, 0.0, 1.0) : 0.0;
        const double d = std::hypot(px - t * dx, py - t * dy);
        const float cov = static_cast<float>(std::clamp(width / 2 + 0.5 - d, 0.0, 1.0));
        float& m = m_[std::size_t(y - y0_) * w_ + (x - x0_)];
        m = std::max(m, cov);
      }
  }
  void paint(Canvas& c, Rgb color) const {
    for (int y = 0; y < h_; ++y)
      for (int x = 0; x < w_; ++x) c.blend(x0_ + x, y0_ + y, color, m_[std::size_t(y) * w_ + x]);
  }

 private:
  int x0_, y0_, w_, h_;
  std::vector<float> m_;
};

// Data coordinates -> pixel coordinates inside the plot rectangle.
struct Axes {
  int left, top, right, bottom;  // plot rectangle, pixels, inclusive
  double x_lo, x_hi, y_lo, y_hi;  // in axis units (log10 x on a log axis)
  bool log_x = false;
  double ux(double u) const { return left + (u - x_lo) / (x_hi - x_lo) * (right - left); }  // axis units
  double px(double x) const { return ux(log_x ? std::log10(x) : x); }                        // data units
  double py(double y) const { return bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top); }
};

struct Tick {
  double value;  // axis units
  std::string label;
  bool major = true;
};

std::vector<Tick> linear_ticks(double lo, double hi, int max_ticks) {
  const std::vector<double> v = nice_ticks(lo, hi, max_ticks);
  const double step = v.size() > 1 ? v[1] - v[0] : 1.0;
  std::vector<Tick> out;
  for (double t : v) out.push_back({t, tick_label(t, step)});
  return out;
}

std::string decade_label(int k) {
  if (k >= 0 && k <= 3) {
    std::string s = "1";
    s.append(static_cast<std::size_t>(k), '0');
    return s;
  }
  if (k < 0 && k >= -3) return "0." + std::string(static_cast<std::size_t>(-k - 1), '0') + "1";
  return "1e" + std::to_string(k);
}

// Finite-range helpers.
void widen_if_flat(double& lo, double& hi) {
  if (!(lo <= hi)) lo = 0, hi = 1;  // no finite data at all
  if (hi - lo <= 1e-12 * std::max(std::abs(lo), std::abs(hi))) {
    const double pad = lo == 0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= pad, hi += pad;
  }
}

void draw_frame_and_ticks(Canvas& c, const Axes& a, const std::vector<Tick>& xt, const std::vector<Tick>& yt) {
  for (const Tick& t : xt) {
    const int x = static_cast<int>(std::lround(a.ux(t.value)));
    if (t.major) c.vline(x, a.top, a.bottom, grid_color);
  }
  for (const Tick& t : yt) c.hline(a.left, a.right, static_cast<int>(std::lround(a.py(t.value))), grid_color);
}

void draw_axes_labels(Canvas& c, const Axes& a, const std::vector<Tick>& xt, const std::vector<Tick>& yt) {
  c.rect_outline(a.left, a.top, a.right, a.bottom, frame_color);
  for (const Tick& t : xt) {
    const int x = static_cast<int>(std::lround(a.ux(t.value)));
    c.vline(x, a.bottom, a.bottom + (t.major ? tick_len : tick_len / 2 + 1), frame_color);
    if (t.major && !t.label.empty())
      c.text(x - Canvas::text_width(t.label) / 2, a.bottom + tick_len + 4, t.label, ink_color);
  }
  for (const Tick& t : yt) {
    const int y = static_cast<int>(std::lround(a.py(t.value)));
    c.hline(a.left - tick_len, a.left, y, frame_color);
    c.text(a.left - tick_len - 3 - Canvas::text_width(t.label), y - 3, t.label, ink_color);
  }
}

int max_label_width(const std::vector<Tick>& ticks) {
  int w = 0;
  for (const Tick& t : ticks) w = std::max(w, Canvas::text_width(t.label));
  return w;
}

// Title, axis labels and the plot rectangle for a picture of the given size.
Axes layout(Canvas& c, const std::string& title, const std::string& xlabel, const std::string& ylabel, int ylabel_w) {
  Axes a{};
  const int title_h = title.empty() ? 0 : 2 * font::glyph_height + 10;
  a.top = 12 + title_h;
  a.left = 10 + (ylabel.empty() ? 0 : font::glyph_height + 8) + ylabel_w + tick_len + 4;
  a.right = c.width() - 20;
  a.bottom = c.height() - 1 - (tick_len + 4 + font::glyph_height + (xlabel.empty() ? 6 : font::line_height + 10));
  if (a.right - a.left < 20 || a.bottom - a.top < 20)
    throw std::invalid_argument("plot: picture too small for axes and labels");
  if (!title.empty()) c.text((c.width() - Canvas::text_width(title, 2)) / 2, 8, title, ink_color, 2);
  if (!xlabel.empty())
    c.text((a.left + a.right - Canvas::text_width(xlabel)) / 2, c.height() - 1 - font::line_height - 2, xlabel, ink_color);
  if (!ylabel.empty())
    c.text_up(8, (a.top + a.bottom + Canvas::text_width(ylabel)) / 2, ylabel, ink_color);
  return a;
}

}  // namespace

// ---- public helpers ----------------------------------------------------------------------------

Rgb palette_color(std::size_t k) {
  static constexpr Rgb tab10[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return tab10[k % 10];
}

std::vector<Rgb> label_colors(const std::vector<int>& labels) {
  std::vector<Rgb> out;
  out.reserve(labels.size());
  for (int l : labels) out.push_back(l < 0 ? Rgb{0, 0, 0} : palette_color(static_cast<std::size_t>(l)));
  return out;
}

std::vector<Rgb> responsibility_colors(const xt::xtensor<double, 2>& resp) {
  std::vector<Rgb> out(resp.shape(0));
  for (std::size_t n = 0; n < resp.shape(0); ++n) {
    double r = 0, g = 0, b = 0, total = 0;
    for (std::size_t k = 0; k < resp.shape(1); ++k) {
      const double w = resp(n, k);
      if (!(w > 0)) continue;
      const Rgb c = palette_color(k);
      r += w * c.r, g += w * c.g, b += w * c.b, total += w;
    }
    if (total > 0)
      out[n] = {static_cast<std::uint8_t>(std::lround(r / total)), static_cast<std::uint8_t>(std::lround(g / total)),
                static_cast<std::uint8_t>(std::lround(b / total))};
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) throw std::invalid_argument("nice_ticks: range must be finite");
  if (lo > hi) std::swap(lo, hi);
  widen_if_flat(lo, hi);
  max_ticks = std::max(max_ticks, 2);
  // The smallest step of 1, 2 or 5 times a power of ten whose ticks k*step, from the last one at
  // or below lo to the first one at or above hi, number at most max_ticks.
  const double base = std::pow(10.0, std::floor(std::log10((hi - lo) / (max_ticks - 1))));
  double step = base, k0 = 0, k1 = 0;
  for (const double m : {1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0}) {
    step = m * base;
    k0 = std::floor(lo / step + 1e-9), k1 = std::ceil(hi / step - 1e-9);
    if (k1 - k0 + 1 <= max_ticks) break;
  }
  std::vector<double> out;
  for (double k = k0; k <= k1 + 0.5; k += 1) out.push_back(k * step);
  return out;
}

std::string tick_label(double v, double step) {
  if (std::abs(v) < step * 1e-6) v = 0;  // no "-0" or "1.3e-17"
  char buf[48];
  const double mag = std::max(std::abs(v), step);
  if (mag >= 1e6 || step < 1e-4) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
    std::string s = buf;  // "2.5e-05" -> "2.5e-5", "1e+06" -> "1e6"
    const auto e = s.find('e');
    if (e != std::string::npos) {
      std::string mant = s.substr(0, e), ex = s.substr(e + 1);
      const bool neg = ex[0] == '-';
      if (ex[0] == '+' || ex[0] == '-') ex.erase(0, 1);
      ex.erase(0, std::min(ex.find_first_not_of('0'), ex.size() - 1));
      s = mant + "e" + (neg ? "-" : "") + ex;
    }
    return s;
  }
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// ---- line plots --------------------------------------------------------------------------------

Image plot_lines(const std::vector<Series>& series, const LinePlotOptions& o) {
  // Data range over finite points (x > 0 on a log axis).
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const Series& s : series) {
    if (!s.x.empty() && s.x.size() != s.y.size())
      throw std::invalid_argument("plot_lines: series '" + s.label + "' has " + std::to_string(s.x.size()) +
                                  " x values but " + std::to_string(s.y.size()) + " y values");
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      const double x = s.x.empty() ? static_cast<double>(i) : s.x[i], y = s.y[i];
      if (!std::isfinite(x) || !std::isfinite(y) || (o.log_x && !(x > 0))) continue;
      xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  }
  const bool any = xmin <= xmax;
  if (!any) xmin = o.log_x ? 1 : 0, xmax = o.log_x ? 10 : 1, ymin = 0, ymax = 1;

  std::vector<Tick> yt = linear_ticks(ymin, ymax, 7);
  std::vector<Tick> xt;
  double x_lo, x_hi;
  if (o.log_x) {
    int k0 = static_cast<int>(std::floor(std::log10(xmin) + 1e-9));
    int k1 = static_cast<int>(std::ceil(std::log10(xmax) - 1e-9));
    if (k1 <= k0) k1 = k0 + 1;
    const int label_every = std::max(1, (k1 - k0 + 7) / 8);
    for (int k = k0; k <= k1; ++k) {
      xt.push_back({double(k), (k - k0) % label_every == 0 ? decade_label(k) : "", true});
      if (k < k1)
        for (int m = 2; m <= 9; ++m) xt.push_back({k + std::log10(double(m)), "", false});
    }
    x_lo = k0, x_hi = k1;
  } else {
    xt = linear_ticks(xmin, xmax, 8);
    x_lo = xt.front().value, x_hi = xt.back().value;
  }

  Canvas c(o.width, o.height);
  Axes a = layout(c, o.title, o.xlabel, o.ylabel, max_label_width(yt));
  a.log_x = o.log_x;
  a.x_lo = x_lo, a.x_hi = x_hi;
  a.y_lo = yt.front().value, a.y_hi = yt.back().value;
  draw_frame_and_ticks(c, a, xt, yt);

  for (std::size_t si = 0; si < series.size(); ++si) {
    const Series& s = series[si];
    const Rgb color = s.color ? *s.color : palette_color(si);
    CoverageMask mask(a.left, a.top, a.right + 1, a.bottom + 1);
    const auto x_of = [&s](std::size_t i) { return s.x.empty() ? static_cast<double>(i) : s.x[i]; };
    const auto drawable = [&](std::size_t i) {
      return i < s.y.size() && std::isfinite(x_of(i)) && std::isfinite(s.y[i]) && (!o.log_x || x_of(i) > 0);
    };
    bool have_prev = false;
    double px = 0, py = 0;
    for (std::size_t i = 0; i < s.y.size(); ++i) {
      if (!drawable(i)) {
        have_prev = false;  // break the line
        continue;
      }
      const double qx = a.px(x_of(i)), qy = a.py(s.y[i]);
      if (have_prev) mask.segment(px, py, qx, qy, o.line_width);
      else if (!drawable(i + 1)) mask.segment(qx, qy, qx, qy, o.line_width + 1);  // a lone point: a dot
      px = qx, py = qy, have_prev = true;
    }
    mask.paint(c, color);
  }
  draw_axes_labels(c, a, xt, yt);

  // Legend, top right inside the plot.
  std::vector<std::size_t> labelled;
  for (std::size_t i = 0; i < series.size(); ++i)
    if (!series[i].label.empty()) labelled.push_back(i);
  if (!labelled.empty()) {
    int text_w = 0;
    for (auto i : labelled) text_w = std::max(text_w, Canvas::text_width(series[i].label));
    const int box_w = 8 + 18 + 6 + text_w + 8;
    const int box_h = 6 + static_cast<int>(labelled.size()) * (font::line_height + 2) + 4;
    const int bx = a.right - 8 - box_w, by = a.top + 8;
    c.fill_rect(bx, by, bx + box_w, by + box_h, white);
    c.rect_outline(bx, by, bx + box_w - 1, by + box_h - 1, grid_color);
    for (std::size_t j = 0; j < labelled.size(); ++j) {
      const Series& s = series[labelled[j]];
      const Rgb color = s.color ? *s.color : palette_color(labelled[j]);
      const int ty = by + 6 + static_cast<int>(j) * (font::line_height + 2);
      c.fill_rect(bx + 8, ty + 3, bx + 8 + 18, ty + 5, color);
      c.text(bx + 8 + 18 + 6, ty, s.label, ink_color);
    }
  }
  return c.take();
}

void save_line_plot(const std::string& path, const std::vector<Series>& series, const LinePlotOptions& options) {
  write_png(path, plot_lines(series, options));
}

// ---- scatter plots -----------------------------------------------------------------------------

namespace {

// Principal axes of [[a, b], [b, c]]: eigenvalues l1 >= l2 and the angle of the first axis.
void principal_axes(double a, double b, double c, double& l1, double& l2, double& angle) {
  const double mid = (a + c) / 2, rad = std::hypot((a - c) / 2, b);
  l1 = mid + rad;
  l2 = std::max(mid - rad, 0.0);
  angle = 0.5 * std::atan2(2 * b, a - c);
}

}  // namespace

Image plot_scatter(const xt::xtensor<double, 2>& points, const std::vector<Rgb>& colors,
                   const std::vector<CovarianceEllipse>& ellipses, const ScatterOptions& o) {
  if (points.shape(1) != 2)
    throw std::invalid_argument("plot_scatter: points have " + std::to_string(points.shape(1)) +
                                " columns; expected [N, 2]");
  const std::size_t n = points.shape(0);
  if (colors.size() > 1 && colors.size() != n)
    throw std::invalid_argument("plot_scatter: " + std::to_string(colors.size()) + " colours for " + std::to_string(n) +
                                " points; expected one per point, or one for all");
  for (const auto& e : ellipses)
    if (!(e.cov_xx >= 0) || !(e.cov_yy >= 0) || e.cov_xy * e.cov_xy > e.cov_xx * e.cov_yy * (1 + 1e-9))
      throw std::invalid_argument("plot_scatter: an ellipse's covariance is not positive semi-definite");

  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  const auto extend = [&](double x, double y) {
    if (!std::isfinite(x) || !std::isfinite(y)) return;
    xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
  };
  for (std::size_t i = 0; i < n; ++i) extend(points(i, 0), points(i, 1));
  const double smax = o.sigmas.empty() ? 0.0 : *std::max_element(o.sigmas.begin(), o.sigmas.end());
  for (const auto& e : ellipses) {
    const double hx = smax * std::sqrt(e.cov_xx), hy = smax * std::sqrt(e.cov_yy);  // bounding box
    extend(e.mean_x - hx, e.mean_y - hy);
    extend(e.mean_x + hx, e.mean_y + hy);
  }
  widen_if_flat(xmin, xmax);
  widen_if_flat(ymin, ymax);
  const double padx = 0.04 * (xmax - xmin), pady = 0.04 * (ymax - ymin);
  xmin -= padx, xmax += padx, ymin -= pady, ymax += pady;

  std::vector<Tick> yt = linear_ticks(ymin, ymax, 9);
  Canvas c(o.width, o.height);
  Axes a = layout(c, o.title, o.xlabel, o.ylabel, max_label_width(yt) + 6);
  // Axis ranges are the data ranges (not snapped to ticks); equal aspect widens the tighter one.
  a.x_lo = xmin, a.x_hi = xmax, a.y_lo = ymin, a.y_hi = ymax;
  if (o.equal_aspect) {
    const double ux = (xmax - xmin) / (a.right - a.left), uy = (ymax - ymin) / (a.bottom - a.top);
    if (ux > uy) {
      const double mid = (ymin + ymax) / 2, half = ux * (a.bottom - a.top) / 2;
      a.y_lo = mid - half, a.y_hi = mid + half;
    } else {
      const double mid = (xmin + xmax) / 2, half = uy * (a.right - a.left) / 2;
      a.x_lo = mid - half, a.x_hi = mid + half;
    }
  }
  const auto inside = [](const std::vector<double>& v, double lo, double hi) {
    std::vector<Tick> t;
    const double step = v.size() > 1 ? v[1] - v[0] : 1.0;
    for (double x : v)
      if (x >= lo - 1e-9 * step && x <= hi + 1e-9 * step) t.push_back({x, tick_label(x, step)});
    return t;
  };
  yt = inside(nice_ticks(a.y_lo, a.y_hi, 9), a.y_lo, a.y_hi);
  const std::vector<Tick> xt = inside(nice_ticks(a.x_lo, a.x_hi, 9), a.x_lo, a.x_hi);
  draw_frame_and_ticks(c, a, xt, yt);

  for (std::size_t i = 0; i < n; ++i) {
    const double x = points(i, 0), y = points(i, 1);
    if (!std::isfinite(x) || !std::isfinite(y)) continue;
    const Rgb col = colors.empty() ? palette_color(0) : colors.size() == 1 ? colors[0] : colors[i];
    const double qx = a.px(x), qy = a.py(y);
    if (qx < a.left || qx > a.right || qy < a.top || qy > a.bottom) continue;
    c.disc(qx, qy, o.point_radius, col);
  }

  // Ellipses: x(t) = μ + s (√λ1 cos t u1 + √λ2 sin t u2), drawn as a closed polyline, with the
  // innermost sigma drawn thickest; the mean is marked with a cross.
  for (const auto& e : ellipses) {
    double l1, l2, th;
    principal_axes(e.cov_xx, e.cov_xy, e.cov_yy, l1, l2, th);
    std::vector<double> sig = o.sigmas;
    std::sort(sig.begin(), sig.end());
    for (std::size_t si = 0; si < sig.size(); ++si) {
      CoverageMask mask(a.left, a.top, a.right + 1, a.bottom + 1);
      const int steps = 180;
      double px = 0, py = 0;
      for (int k = 0; k <= steps; ++k) {
        const double t = 2 * M_PI * k / steps;
        const double u = sig[si] * std::sqrt(l1) * std::cos(t), v = sig[si] * std::sqrt(l2) * std::sin(t);
        const double qx = a.px(e.mean_x + u * std::cos(th) - v * std::sin(th));
        const double qy = a.py(e.mean_y + u * std::sin(th) + v * std::cos(th));
        if (k > 0) mask.segment(px, py, qx, qy, si == 0 ? 2.0 : 1.2);
        px = qx, py = qy;
      }
      mask.paint(c, e.color);
    }
    CoverageMask cross(a.left, a.top, a.right + 1, a.bottom + 1);
    const double mx = a.px(e.mean_x), my = a.py(e.mean_y);
    cross.segment(mx - 5, my - 5, mx + 5, my + 5, 2.0);
    cross.segment(mx - 5, my + 5, mx + 5, my - 5, 2.0);
    cross.paint(c, {0, 0, 0});
  }
  draw_axes_labels(c, a, xt, yt);
  return c.take();
}

void save_scatter_plot(const std::string& path, const xt::xtensor<double, 2>& points, const std::vector<Rgb>& colors,
                       const std::vector<CovarianceEllipse>& ellipses, const ScatterOptions& options) {
  write_png(path, plot_scatter(points, colors, ellipses, options));
}

}  // namespace tz
