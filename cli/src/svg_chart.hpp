// Minimal SVG charts for self-contained HTML reports: line charts, a heatmap, axes with ticks. No scripts and
// no external resources, so a report opens anywhere and renders the same in a headless browser.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rfab::cli::svg {

std::string escape(std::string_view text);  // for HTML text and attribute values
std::string number(double v);               // a short tick label: 0.5, 12, 1.2k, 3.4M

struct Series {
  std::string name;
  std::string colour;  // CSS colour
  std::vector<std::pair<double, double>> points;
  bool dashed = false;
};

struct Axes {
  std::string title, x_label, y_label;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  int width = 720, height = 260;
  int left = 64;  // room for the y labels
};

// A line chart of `series` (each drawn as a polyline, named in a legend); `marks` are vertical dashed
// lines with a label (e.g. the end of the warm-up).
std::string line_chart(const Axes& axes, const std::vector<Series>& series,
                       const std::vector<std::pair<double, std::string>>& marks = {});

// Rows x columns of values in [0, 1] as coloured cells (white -> blue -> red), rows labelled, the x axis
// spanning [axes.x_min, axes.x_max]; a colour scale is drawn beside it.
std::string heatmap(const Axes& axes, const std::vector<std::string>& rows, const std::vector<std::vector<double>>& cells);

// A time line per row: each bar spans [x0, x1] of its row in its colour (`faint`: drawn light, behind the
// others), with `tip` as its hover text.
struct Bar {
  size_t row = 0;
  double x0 = 0, x1 = 0;
  std::string colour, tip;
  bool faint = false;
};
std::string gantt(const Axes& axes, const std::vector<std::string>& rows, const std::vector<Bar>& bars);

}  // namespace rfab::cli::svg
