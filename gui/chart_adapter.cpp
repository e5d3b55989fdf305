#include "gui/chart_adapter.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
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

// A palette that stays distinguishable in print and for common colour-vision deficiencies
// (Okabe & Ito 2008, "Color Universal Design").
const QColor kPalette[] = {QColor(0, 114, 178),  QColor(230, 159, 0),   QColor(0, 158, 115),
                           QColor(204, 121, 167), QColor(86, 180, 233),  QColor(213, 94, 0),
                           QColor(240, 228, 66),  QColor(120, 120, 120), QColor(0, 0, 0)};
constexpr int kPaletteSize = static_cast<int>(sizeof(kPalette) / sizeof(kPalette[0]));

QColor palette_color(std::size_t i) { return kPalette[static_cast<int>(i) % kPaletteSize]; }

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
  QChart* old = view->chart();
  view->setChart(chart);  // the view takes ownership of the new chart
  delete old;
  return chart;
}

QValueAxis* value_axis(const QString& title, double max) {
  auto* axis = new QValueAxis();
  axis->setTitleText(title);
  axis->setRange(0, nice_max(max));
  axis->setLabelFormat("%.3g");
  axis->applyNiceNumbers();
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

  double xmin = std::numeric_limits<double>::max(), xmax = 0, ymax = 0;
  double ymin = std::numeric_limits<double>::max();
  std::vector<QXYSeries*> made;
  auto* rings = new QScatterSeries();
  rings->setName(flagged_name);
  rings->setMarkerShape(QScatterSeries::MarkerShapeCircle);
  rings->setMarkerSize(16);
  rings->setColor(Qt::transparent);
  QPen ring_pen(QColor(200, 0, 0));
  ring_pen.setWidthF(2.0);
  rings->setPen(ring_pen);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto* line = new QLineSeries();
    line->setName(lines[i].name);
    QPen pen(palette_color(i));
    pen.setWidthF(2.0);
    line->setPen(pen);
    line->setPointsVisible(true);
    const std::size_t n = std::min(lines[i].x.size(), lines[i].y.size());
    for (std::size_t k = 0; k < n; ++k) {
      const double xv = lines[i].x[k], yv = lines[i].y[k];
      if (!std::isfinite(xv) || !std::isfinite(yv) || (log2_x && xv <= 0)) continue;
      line->append(xv, yv);
      if (k < lines[i].flagged.size() && lines[i].flagged[k]) rings->append(xv, yv);
      xmin = std::min(xmin, xv);
      xmax = std::max(xmax, xv);
      ymax = std::max(ymax, yv);
      ymin = std::min(ymin, yv);
    }
    chart->addSeries(line);
    made.push_back(line);
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
    auto* lx = new QLogValueAxis();
    lx->setBase(2.0);
    lx->setLabelFormat("%g");
    lx->setRange(xmin / 1.3, xmax * 1.3);
    lx->setMinorTickCount(0);
    x = lx;
  } else {
    auto* vx = new QValueAxis();
    vx->setRange(xmin, xmax);
    vx->setLabelFormat("%g");
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
    ly->setTitleText(y_axis_title + tr(", log scale"));
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
