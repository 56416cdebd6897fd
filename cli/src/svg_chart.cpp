#include "svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace rfab::cli::svg {

namespace {

constexpr int kRight = 150, kTop = 28, kBottom = 42;

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", v);
  return b;
}

struct Frame {
  const Axes& a;
  double px(double x) const {
    const double span = a.x_max > a.x_min ? a.x_max - a.x_min : 1;
    return a.left + (x - a.x_min) / span * (a.width - a.left - kRight);
  }
  double py(double y) const {
    const double span = a.y_max > a.y_min ? a.y_max - a.y_min : 1;
    return a.height - kBottom - (std::clamp(y, a.y_min, a.y_max) - a.y_min) / span * (a.height - kTop - kBottom);
  }
};

// About five round ticks over [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  std::vector<double> t;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / 5, mag = std::pow(10, std::floor(std::log10(raw)));
  const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) t.push_back(v);
  return t;
}

std::string open_svg(const Axes& a) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" + std::to_string(a.width) +
         "\" height=\"" + std::to_string(a.height) + "\" viewBox=\"0 0 " + std::to_string(a.width) + " " +
         std::to_string(a.height) + "\" role=\"img\" aria-label=\"" + escape(a.title) + "\">" +
         "<text x=\"" + std::to_string(a.left) + "\" y=\"18\" class=\"title\">" + escape(a.title) + "</text>";
}

std::string axes_svg(const Axes& a, bool y_ticks) {
  const Frame f{a};
  std::string s;
  const double x0 = a.left, x1 = a.width - kRight, y0 = a.height - kBottom, y1 = kTop;
  s += "<line class=\"axis\" x1=\"" + fmt(x0) + "\" y1=\"" + fmt(y0) + "\" x2=\"" + fmt(x1) + "\" y2=\"" + fmt(y0) + "\"/>";
  s += "<line class=\"axis\" x1=\"" + fmt(x0) + "\" y1=\"" + fmt(y0) + "\" x2=\"" + fmt(x0) + "\" y2=\"" + fmt(y1) + "\"/>";
  for (double t : ticks(a.x_min, a.x_max))
    s += "<text class=\"tick\" x=\"" + fmt(f.px(t)) + "\" y=\"" + fmt(y0 + 14) + "\" text-anchor=\"middle\">" +
         number(t) + "</text>";
  if (y_ticks)
    for (double t : ticks(a.y_min, a.y_max)) {
      s += "<line class=\"grid\" x1=\"" + fmt(x0) + "\" y1=\"" + fmt(f.py(t)) + "\" x2=\"" + fmt(x1) + "\" y2=\"" +
           fmt(f.py(t)) + "\"/>";
      s += "<text class=\"tick\" x=\"" + fmt(x0 - 6) + "\" y=\"" + fmt(f.py(t) + 4) + "\" text-anchor=\"end\">" +
           number(t) + "</text>";
    }
  s += "<text class=\"label\" x=\"" + fmt((x0 + x1) / 2) + "\" y=\"" + fmt(a.height - 8.0) +
       "\" text-anchor=\"middle\">" + escape(a.x_label) + "</text>";
  s += "<text class=\"label\" transform=\"translate(14," + fmt((y0 + y1) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">" + escape(a.y_label) + "</text>";
  return s;
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string number(double v) {
  char b[32];
  const double a = std::fabs(v);
  if (a >= 1e9) std::snprintf(b, sizeof b, "%gG", std::round(v / 1e8) / 10);
  else if (a >= 1e6) std::snprintf(b, sizeof b, "%gM", std::round(v / 1e5) / 10);
  else if (a >= 1e4) std::snprintf(b, sizeof b, "%gk", std::round(v / 1e2) / 10);
  else std::snprintf(b, sizeof b, "%g", std::round(v * 1000) / 1000);
  return b;
}

std::string line_chart(const Axes& a, const std::vector<Series>& series,
                       const std::vector<std::pair<double, std::string>>& marks) {
  const Frame f{a};
  std::string s = open_svg(a) + axes_svg(a, true);
  for (const auto& [x, label] : marks) {
    s += "<line class=\"mark\" x1=\"" + fmt(f.px(x)) + "\" y1=\"" + fmt(f.py(a.y_min)) + "\" x2=\"" + fmt(f.px(x)) +
         "\" y2=\"" + fmt(f.py(a.y_max)) + "\"/>";
    s += "<text class=\"tick\" x=\"" + fmt(f.px(x) + 3) + "\" y=\"" + fmt(kTop + 10.0) + "\">" + escape(label) + "</text>";
  }
  int legend_y = kTop + 4;
  for (const Series& se : series) {
    std::string pts;
    for (const auto& [x, y] : se.points) pts += fmt(f.px(x)) + "," + fmt(f.py(y)) + " ";
    s += "<polyline class=\"series\" fill=\"none\" stroke=\"" + escape(se.colour) + "\" stroke-width=\"2\"" +
         (se.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"" + pts + "\"/>";
    const double lx = a.width - kRight + 12;
    s += "<line x1=\"" + fmt(lx) + "\" y1=\"" + std::to_string(legend_y) + "\" x2=\"" + fmt(lx + 18) + "\" y2=\"" +
         std::to_string(legend_y) + "\" stroke=\"" + escape(se.colour) + "\" stroke-width=\"3\"" +
         (se.dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>";
    s += "<text class=\"tick\" x=\"" + fmt(lx + 24) + "\" y=\"" + std::to_string(legend_y + 4) + "\">" +
         escape(se.name) + "</text>";
    legend_y += 18;
  }
  return s + "</svg>";
}

std::string heatmap(const Axes& a, const std::vector<std::string>& rows, const std::vector<std::vector<double>>& cells) {
  const Frame f{a};
  std::string s = open_svg(a) + axes_svg(a, false);
  const double top = kTop, bottom = a.height - kBottom;
  const double row_h = rows.empty() ? 0 : (bottom - top) / double(rows.size());
  auto colour = [](double v) {
    v = std::clamp(v, 0.0, 1.0);
    // white (0) -> blue (0.5) -> red (1)
    int r, g, b;
    if (v < 0.5) {
      const double t = v / 0.5;
      r = int(255 - t * (255 - 49)), g = int(255 - t * (255 - 104)), b = int(255 - t * (255 - 193));
    } else {
      const double t = (v - 0.5) / 0.5;
      r = int(49 + t * (214 - 49)), g = int(104 - t * (104 - 39)), b = int(193 - t * (193 - 40));
    }
    char buf[16];
    std::snprintf(buf, sizeof buf, "#%02x%02x%02x", r, g, b);
    return std::string(buf);
  };
  for (size_t r = 0; r < rows.size(); ++r) {
    const double y = top + row_h * double(r);
    const size_t n = r < cells.size() ? cells[r].size() : 0;
    const double x0 = a.left, w = (a.width - a.left - kRight) / double(n ? n : 1);
    for (size_t c = 0; c < n; ++c)
      s += "<rect class=\"cell\" x=\"" + fmt(x0 + w * double(c)) + "\" y=\"" + fmt(y) + "\" width=\"" + fmt(w + 0.5) +
           "\" height=\"" + fmt(row_h - 1) + "\" fill=\"" + colour(cells[r][c]) + "\"><title>" + escape(rows[r]) + ": " +
           number(cells[r][c]) + "</title></rect>";
    s += "<text class=\"tick\" x=\"" + fmt(a.left - 6.0) + "\" y=\"" + fmt(y + row_h / 2 + 4) + "\" text-anchor=\"end\">" +
         escape(rows[r]) + "</text>";
  }
  // Colour scale.
  const double sx = a.width - kRight + 20;
  for (int i = 0; i <= 10; ++i) {
    const double v = 1.0 - i / 10.0, y = top + (bottom - top) * i / 11.0;
    s += "<rect x=\"" + fmt(sx) + "\" y=\"" + fmt(y) + "\" width=\"16\" height=\"" + fmt((bottom - top) / 11.0) +
         "\" fill=\"" + colour(v) + "\"/>";
    if (i % 5 == 0)
      s += "<text class=\"tick\" x=\"" + fmt(sx + 22) + "\" y=\"" + fmt(y + 10) + "\">" + number(v) + "</text>";
  }
  (void)f;
  return s + "</svg>";
}

std::string gantt(const Axes& a, const std::vector<std::string>& rows, const std::vector<Bar>& bars) {
  const Frame f{a};
  std::string s = open_svg(a) + axes_svg(a, false);
  const double top = kTop, bottom = a.height - kBottom;
  const double row_h = rows.empty() ? 0 : (bottom - top) / double(rows.size());
  for (size_t r = 0; r < rows.size(); ++r)
    s += "<text class=\"tick\" x=\"" + fmt(a.left - 6.0) + "\" y=\"" + fmt(top + row_h * double(r) + row_h / 2 + 4) +
         "\" text-anchor=\"end\">" + escape(rows[r]) + "</text>";
  for (int pass = 0; pass < 2; ++pass)  // faint bars first, so the solid ones stay on top
    for (const Bar& b : bars) {
      if (b.faint != (pass == 0) || b.row >= rows.size()) continue;
      const double x0 = f.px(b.x0), w = std::max(f.px(b.x1) - x0, 1.0);
      const double y = top + row_h * double(b.row) + (b.faint ? row_h * 0.2 : row_h * 0.1);
      s += "<rect class=\"bar\" x=\"" + fmt(x0) + "\" y=\"" + fmt(y) + "\" width=\"" + fmt(w) + "\" height=\"" +
           fmt(b.faint ? row_h * 0.6 : row_h * 0.8) + "\" fill=\"" + escape(b.colour) + "\"" +
           (b.faint ? " fill-opacity=\"0.3\"" : "") + "><title>" + escape(b.tip) + "</title></rect>";
    }
  return s + "</svg>";
}

}  // namespace rfab::cli::svg
