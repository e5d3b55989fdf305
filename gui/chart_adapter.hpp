#pragma once
/// The one place the GUI touches Qt Charts. Every chart of the window is a ChartAdapter: a
/// widget that draws stacked bars, grouped bars or lines from plain numbers, and hands the
/// numbers back (series()) so tests can check what is drawn without including Qt Charts.
/// Moving to Qt Graphs later means rewriting chart_adapter.cpp only.

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <QColor>
#include <QPainter>
#include <QRectF>
#include <QString>
#include <QStringList>
#include <QWidget>

namespace clustercost {

/// One named row of values: a bar set (one value per category) or a line (x and y).
struct ChartSeries {
  ChartSeries() = default;
  ChartSeries(QString series_name, std::vector<double> xs, std::vector<double> ys,
              std::vector<bool> flags = {})
      : name(std::move(series_name)), x(std::move(xs)), y(std::move(ys)),
        flagged(std::move(flags)) {}

  QString name;
  std::vector<double> x;  // lines only
  std::vector<double> y;  // bar values per category, or line y values
  /// Lines only, optional: points to mark (e.g. "does not fit in HBM"), parallel to x/y.
  std::vector<bool> flagged;
  /// Lines only: separate what-ifs (a sweep's explicit points), drawn as markers without a
  /// joining line so that they are not read as part of a trend.
  bool points_only = false;
};

/// The colour of series `i` of a chart: distinct for every i (the first 16 from a print- and
/// colour-blind-friendly palette).
QColor series_color(std::size_t i);

/// A horizontal reference line across a bar chart (e.g. HBM capacity).
struct ReferenceLine {
  QString name;
  double value = 0;
};

class ChartAdapter : public QWidget {
  Q_OBJECT
 public:
  explicit ChartAdapter(QWidget* parent = nullptr);
  ~ChartAdapter() override;

  /// Bars stacked per category; `sets` gives one value per category each.
  void stacked_bar(const QString& title, const QStringList& categories,
                   const std::vector<ChartSeries>& sets, const QString& value_axis_title,
                   std::optional<ReferenceLine> reference = std::nullopt);
  /// Bars side by side per category (one bar per set).
  void bar_set(const QString& title, const QStringList& categories,
               const std::vector<ChartSeries>& sets, const QString& value_axis_title);
  /// Lines with markers (a distinct colour and marker shape per series); `log2_x` spaces the x
  /// axis by log2 and labels it with the x values themselves as whole numbers (GPU counts).
  /// Points flagged in a series get a red ring, named `flagged_name` in the legend.
  void line_series(const QString& title, const std::vector<ChartSeries>& lines,
                   const QString& x_axis_title, const QString& y_axis_title, bool log2_x,
                   const QString& flagged_name = QString());
  /// Removes everything and shows `message` as the title.
  void clear(const QString& message = QString());

  /// What is drawn, as given (bar sets then the reference line, or the lines).
  const std::vector<ChartSeries>& series() const { return series_; }
  const QStringList& categories() const { return categories_; }
  const QString& title() const { return title_; }
  QString value_axis_title() const { return value_axis_title_; }
  QString x_axis_title() const { return x_axis_title_; }
  /// Draws the chart into `target` (PDF pages) at that size.
  void render_to(QPainter& painter, const QRectF& target);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<ChartSeries> series_;
  QStringList categories_;
  QString title_;
  QString value_axis_title_;
  QString x_axis_title_;
};

}  // namespace clustercost
