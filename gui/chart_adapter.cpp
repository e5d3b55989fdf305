#include "gui/chart_adapter.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QCategoryAxis>
#include <QChart>
#include <QChartView>
#include <QCoreApplication>
#include <QGraphicsLayout>
#include <QLegend>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QPen>
#include <QScatterSeries>
#include <QStackedBarSeries>
#include <QVBoxLayout>
#include <QValueAxis>

namespace clustercost {

struct ChartAdapter::Impl {
  QChartView* view = nullptr;
};

namespace {

// One colour per series, never repeated for the catalogue's GPU types (a dozen today):
// Okabe & Ito's colour-blind-safe eight ("Color Universal Design", 2008) without their yellow,
// which vanishes on white paper, then Paul Tol's "muted" scheme (personal.sron.nl/~pault) for
// the rest. Beyond the 16 listed, hues are spread by the golden angle so that no two series of
// one chart share a colour.
const QColor kPalette[] = {QColor(0, 114, 178),   QColor(230, 159, 0),   QColor(0, 158, 115),
                           QColor(204, 121, 167), QColor(86, 180, 233),  QColor(213, 94, 0),
                           QColor(0, 0, 0),       QColor(51, 34, 136),   QColor(136, 204, 238),
                           QColor(68, 170, 153),  QColor(17, 119, 51),   QColor(153, 153, 51),
                           QColor(204, 102, 119), QColor(136, 34, 85),   QColor(170, 68, 153),
                           QColor(120, 120, 120)};
constexpr std::size_t kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

}  // namespace

QColor series_color(std::size_t i) {
  if (i < kPaletteSize) return kPalette[i];
  const double hue = std::fmod(static_cast<double>(i - kPaletteSize) * 137.508, 360.0);
  return QColor::fromHsv(static_cast<int>(hue), 200, 170);
}

namespace {

QColor palette_color(std::size_t i) { return series_color(i); }

// Marker shapes cycle with the series so that lines lying on top of each other (two GPU types
// with the same wall time) still show both: a ring under a square under a triangle.
QScatterSeries::MarkerShape marker_shape(std::size_t i) {
  static const QScatterSeries::MarkerShape shapes[] = {
      QScatterSeries::MarkerShapeCircle, QScatterSeries::MarkerShapeRectangle,
      QScatterSeries::MarkerShapeTriangle, QScatterSeries::MarkerShapeRotatedRectangle,
      QScatterSeries::MarkerShapeStar, QScatterSeries::MarkerShapePentagon};
  return shapes[i % (sizeof(shapes) / sizeof(shapes[0]))];
}

// Axis labels a reader can take at face value: whole numbers without a decimal point or an
// SI suffix ("3210", not "3.21K"), small values with three significant digits.
QString label_format(double max) { return std::fabs(max) >= 100 ? "%.0f" : "%.3g"; }

// A value-axis maximum with some head room, never zero (an empty chart still gets an axis).
double nice_max(double v) {
  if (!(v > 0) || !std::isfinite(v)) return 1.0;
  return v * 1.08;
}

QChart* fresh_chart(QChartView* view, const QString& title) {
  auto* chart = new QChart();
  chart->setTitle(title);
  QFont f = chart->titleFont();
  f.setPointSizeF(f.pointSizeF() * 1.2);
  f.setBold(true);
  chart->setTitleFont(f);
  chart->setAnimationOptions(QChart::NoAnimation);
  chart->legend()->setVisible(true);
  chart->legend()->setAlignment(Qt::AlignBottom);
  // Full names in the legend: Qt elides a label that does not fit its share of a row
  // ("A100-4…"); the tooltip keeps the name reachable if a window is very narrow.
  chart->legend()->setShowToolTips(true);
  QChart* old = view->chart();
  view->setChart(chart);  // the view takes ownership of the new chart
  delete old;
  return chart;
}

QValueAxis* value_axis(const QString& title, double max) {
  auto* axis = new QValueAxis();
  axis->setTitleText(title);
  axis->setRange(0, nice_max(max));
  axis->applyNiceNumbers();
  axis->setLabelFormat(label_format(axis->max()));
  return axis;
}

}  // namespace

ChartAdapter::ChartAdapter(QWidget* parent) : QWidget(parent), impl_(std::make_unique<Impl>()) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  impl_->view = new QChartView(this);
  impl_->view->setRenderHint(QPainter::Antialiasing);
  layout->addWidget(impl_->view);
  clear();
}

ChartAdapter::~ChartAdapter() = default;

void ChartAdapter::clear(const QString& message) {
  series_.clear();
  categories_.clear();
  title_ = message;
  value_axis_title_.clear();
  x_axis_title_.clear();
  QChart* chart = fresh_chart(impl_->view, message);
  chart->legend()->setVisible(false);
}

void ChartAdapter::stacked_bar(const QString& title, const QStringList& categories,
                               const std::vector<ChartSeries>& sets,
                               const QString& value_axis_title,
                               std::optional<ReferenceLine> reference) {
  series_ = sets;
  categories_ = categories;
  title_ = title;
  value_axis_title_ = value_axis_title;
  x_axis_title_.clear();
  QChart* chart = fresh_chart(impl_->view, title);

  auto* bars = new QStackedBarSeries();
  std::vector<double> stack(static_cast<std::size_t>(categories.size()), 0.0);
  for (std::size_t i = 0; i < sets.size(); ++i) {
    auto* set = new QBarSet(sets[i].name);
    set->setColor(palette_color(i));
    set->setBorderColor(palette_color(i).darker(130));
    for (std::size_t c = 0; c < stack.size(); ++c) {
      double v = c < sets[i].y.size() ? sets[i].y[c] : 0.0;
      *set << v;
      stack[c] += std::max(v, 0.0);
    }
    bars->append(set);
  }
  bars->setBarWidth(0.5);
  chart->addSeries(bars);

  double max = stack.empty() ? 0.0 : *std::max_element(stack.begin(), stack.end());
  if (reference) max = std::max(max, reference->value);
  auto* x = new QBarCategoryAxis();
  x->append(categories);
  auto* y = value_axis(value_axis_title, max);
  chart->addAxis(x, Qt::AlignBottom);
  chart->addAxis(y, Qt::AlignLeft);
  bars->attachAxis(x);
  bars->attachAxis(y);

  if (reference) {
    series_.push_back({reference->name, {}, {reference->value}});
    // The line spans the category axis, whose range is [-0.5, n - 0.5].
    auto* line = new QLineSeries();
    line->setName(reference->name);
    const double n = static_cast<double>(std::max<qsizetype>(categories.size(), 1));
    line->append(-0.5, reference->value);
    line->append(n - 0.5, reference->value);
    QPen pen(QColor(200, 0, 0));
    pen.setWidthF(2.5);
    pen.setStyle(Qt::DashLine);
    line->setPen(pen);
    chart->addSeries(line);
    auto* hx = new QValueAxis();
    hx->setRange(-0.5, n - 0.5);
    hx->setVisible(false);
    chart->addAxis(hx, Qt::AlignTop);
    line->attachAxis(hx);
    line->attachAxis(y);
  }
}

void ChartAdapter::bar_set(const QString& title, const QStringList& categories,
                           const std::vector<ChartSeries>& sets,
                           const QString& value_axis_title) {
  series_ = sets;
  categories_ = categories;
  title_ = title;
  value_axis_title_ = value_axis_title;
  x_axis_title_.clear();
  QChart* chart = fresh_chart(impl_->view, title);
  // Long series names (layouts) get a legend column of their own rather than being elided.
  if (sets.size() > 2) chart->legend()->setAlignment(Qt::AlignRight);
  auto* bars = new QBarSeries();
  double max = 0;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    auto* set = new QBarSet(sets[i].name);
    set->setColor(palette_color(i));
    set->setBorderColor(palette_color(i).darker(130));
    for (qsizetype c = 0; c < categories.size(); ++c) {
      const auto k = static_cast<std::size_t>(c);
      double v = k < sets[i].y.size() && std::isfinite(sets[i].y[k]) ? sets[i].y[k] : 0.0;
      *set << v;
      max = std::max(max, v);
    }
    bars->append(set);
  }
  chart->addSeries(bars);
  auto* x = new QBarCategoryAxis();
  x->append(categories);
  auto* y = value_axis(value_axis_title, max);
  chart->addAxis(x, Qt::AlignBottom);
  chart->addAxis(y, Qt::AlignLeft);
  bars->attachAxis(x);
  bars->attachAxis(y);
}

void ChartAdapter::line_series(const QString& title, const std::vector<ChartSeries>& lines,
                               const QString& x_axis_title, const QString& y_axis_title,
                               bool log2_x, const QString& flagged_name) {
  series_ = lines;
  categories_.clear();
  title_ = title;
  value_axis_title_ = y_axis_title;
  x_axis_title_ = x_axis_title;
  QChart* chart = fresh_chart(impl_->view, title);
  // Several GPU types: a legend column on the right keeps every name whole.
  if (lines.size() > 4) chart->legend()->setAlignment(Qt::AlignRight);

  // GPU counts are plotted at log2(count) on a category axis labelled with the counts
  // themselves, so the axis reads "256  512  1024", whole numbers at the points drawn.
  auto plot_x = [log2_x](double x) { return log2_x ? std::log2(x) : x; };
  double xmin = std::numeric_limits<double>::max(), xmax = 0, ymax = 0;
  double ymin = std::numeric_limits<double>::max();
  std::set<double> xs;
  std::vector<QXYSeries*> made;
  auto* rings = new QScatterSeries();
  rings->setName(flagged_name);
  rings->setMarkerShape(QScatterSeries::MarkerShapeCircle);
  rings->setMarkerSize(18);
  rings->setColor(Qt::transparent);
  QPen ring_pen(QColor(200, 0, 0));
  ring_pen.setWidthF(2.0);
  rings->setPen(ring_pen);
  std::vector<QScatterSeries*> marker_series;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const QColor color = palette_color(i);
    // The markers: a distinct shape per series, hollow, so a marker under another stays visible.
    auto* markers = new QScatterSeries();
    markers->setName(lines[i].name);
    markers->setMarkerShape(marker_shape(i));
    markers->setMarkerSize(lines[i].points_only ? 13 : 10);
    markers->setColor(lines[i].points_only ? color : QColor(255, 255, 255, 0));
    QPen marker_pen(color);
    marker_pen.setWidthF(2.0);
    markers->setPen(marker_pen);
    QLineSeries* line = nullptr;
    if (!lines[i].points_only) {
      line = new QLineSeries();
      line->setName(lines[i].name);
      QPen pen(color);
      pen.setWidthF(2.0);
      line->setPen(pen);
    }
    const std::size_t n = std::min(lines[i].x.size(), lines[i].y.size());
    for (std::size_t k = 0; k < n; ++k) {
      const double xv = lines[i].x[k], yv = lines[i].y[k];
      if (!std::isfinite(xv) || !std::isfinite(yv) || (log2_x && xv <= 0)) continue;
      const double px = plot_x(xv);
      if (line) line->append(px, yv);
      markers->append(px, yv);
      if (k < lines[i].flagged.size() && lines[i].flagged[k]) rings->append(px, yv);
      xs.insert(xv);
      xmin = std::min(xmin, px);
      xmax = std::max(xmax, px);
      ymax = std::max(ymax, yv);
      ymin = std::min(ymin, yv);
    }
    if (line) {
      chart->addSeries(line);
      made.push_back(line);
    }
    chart->addSeries(markers);
    made.push_back(markers);
    marker_series.push_back(markers);
    // One legend entry per series: the line's, drawn in its colour; a points-only series
    // shows its marker.
    for (QLegendMarker* m : chart->legend()->markers(markers)) {
      m->setVisible(line == nullptr);
      if (!line) m->setShape(QLegend::MarkerShapeFromSeries);
    }
  }
  if (xmin > xmax) xmin = 1, xmax = 2;
  if (rings->count() > 0) {
    chart->addSeries(rings);
    made.push_back(rings);
    for (QLegendMarker* marker : chart->legend()->markers(rings)) {
      marker->setShape(QLegend::MarkerShapeCircle);
      marker->setPen(ring_pen);
      marker->setBrush(Qt::NoBrush);
    }
  } else {
    delete rings;
  }

  QAbstractAxis* x = nullptr;
  if (log2_x) {
    auto* cx = new QCategoryAxis();
    cx->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
    const double pad = std::max(0.3, 0.08 * (xmax - xmin));
    cx->setRange(xmin - pad, xmax + pad);
    for (double v : xs) cx->append(QString::number(static_cast<long long>(std::llround(v))),
                                   std::log2(v));
    cx->setGridLineVisible(true);
    x = cx;
  } else {
    auto* vx = new QValueAxis();
    vx->setRange(xmin, xmax);
    vx->setLabelFormat(label_format(xmax));
    x = vx;
  }
  x->setTitleText(x_axis_title);
  // Lines an order of magnitude apart (a slow GPU type next to fast ones) would flatten the
  // others against the axis: switch to a log scale then.
  QAbstractAxis* y = nullptr;
  if (ymin > 0 && ymax / ymin > 5) {
    auto* ly = new QLogValueAxis();
    ly->setBase(10.0);
    ly->setLabelFormat("%g");
    // Whole decades, so every end of the axis carries a label.
    ly->setRange(std::pow(10.0, std::floor(std::log10(ymin))),
                 std::pow(10.0, std::ceil(std::log10(ymax * 1.0001))));
    ly->setMinorTickCount(8);
    ly->setTitleText(y_axis_title + tr(" (log scale)"));
    y = ly;
  } else {
    y = value_axis(y_axis_title, ymax);
  }
  chart->addAxis(x, Qt::AlignBottom);
  chart->addAxis(y, Qt::AlignLeft);
  for (auto* line : made) {
    line->attachAxis(x);
    line->attachAxis(y);
  }
}

void ChartAdapter::render_to(QPainter& painter, const QRectF& target) {
  QChart* chart = impl_->view->chart();
  if (!chart) return;
  // Lay the chart out at a screen-like size with the page's aspect ratio, so fonts keep their
  // proportions on a 1200-dpi PDF page, then scale it into the target rectangle.
  const QSizeF old = chart->size();
  const double w = 1000.0;
  const double h = target.width() > 0 ? w * target.height() / target.width() : 600.0;
  chart->resize(w, h);
  if (chart->layout()) chart->layout()->activate();
  QCoreApplication::sendPostedEvents();
  chart->scene()->render(&painter, target, QRectF(chart->pos(), QSizeF(w, h)));
  chart->resize(old);
  if (chart->layout()) chart->layout()->activate();
}

}  // namespace clustercost
