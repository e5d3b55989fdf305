#include "gui/result_views.hpp"

#include <algorithm>
#include <cmath>

#include <QBrush>
#include <QFrame>
#include <QGraphicsRectItem>
#include <QGraphicsScene>
#include <QGraphicsSimpleTextItem>
#include <QGridLayout>
#include <QHeaderView>
#include <QPen>
#include <QVBoxLayout>
#include <QResizeEvent>
#include <QTransform>
#include <QWheelEvent>

namespace clustercost {

namespace {
QString qs(const std::string& s) { return QString::fromStdString(s); }
}  // namespace

// ---- summary -------------------------------------------------------------------------------

SummaryPanel::SummaryPanel(QWidget* parent) : QWidget(parent) {
  auto* outer = new QVBoxLayout(this);
  header_ = new QLabel(this);
  header_->setWordWrap(true);
  header_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  outer->addWidget(header_);
  auto* grid = new QGridLayout();
  outer->addLayout(grid);
  const std::pair<const char*, const char*> defs[] = {
      {"wall_days", "Wall time"},   {"gpu_hours", "GPU-hours"},
      {"cost", "Cost"},             {"mfu", "MFU"},
      {"tokens_per_s_per_gpu", "Tokens/s per GPU"}, {"memory", "Memory per GPU"}};
  int i = 0;
  for (const auto& [key, title] : defs) {
    auto* frame = new QFrame(this);
    frame->setObjectName(QString("card_%1").arg(key));
    frame->setFrameShape(QFrame::StyledPanel);
    frame->setMinimumSize(220, 110);
    frame->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Maximum);
    auto* box = new QVBoxLayout(frame);
    Card c;
    c.title = new QLabel(title, frame);
    QFont tf = c.title->font();
    tf.setBold(true);
    c.title->setFont(tf);
    c.value = new QLabel("–", frame);
    QFont vf = c.value->font();
    vf.setPointSizeF(vf.pointSizeF() * 2.0);
    c.value->setFont(vf);
    c.value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    c.detail = new QLabel(frame);
    c.detail->setWordWrap(true);
    box->addWidget(c.title);
    box->addWidget(c.value);
    box->addWidget(c.detail);
    grid->addWidget(frame, i / 3, i % 3);
    cards_[key] = c;
    order_.push_back(key);
    ++i;
  }
  notes_ = new QLabel(this);
  notes_->setWordWrap(true);
  notes_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  outer->addWidget(notes_);
  outer->addStretch();
  clear();
}

void SummaryPanel::clear() {
  header_->setText(tr("No result yet: load a scenario and press Run."));
  for (auto& [key, c] : cards_) {
    c.value->setText("–");
    c.detail->clear();
    c.value->setStyleSheet(QString());
  }
  notes_->clear();
}

void SummaryPanel::show_report(const Report& r) {
  const auto& s = r.scenario;
  const auto& p = s.parallelism;
  header_->setText(
      QString("<b>%1</b> — %2 × %3, tp %4 · cp %5 · pp %6 · dp %7 · ep %8, %9, %10 "
              "(step model: %11)")
          .arg(qs(s.name).toHtmlEscaped())
          .arg(s.cluster.gpus)
          .arg(qs(s.gpu.name).toHtmlEscaped())
          .arg(p.tp)
          .arg(p.cp)
          .arg(p.pp)
          .arg(p.dp)
          .arg(p.ep)
          .arg(qs(schedule_name(p.schedule)))
          .arg(qs(s.training.precision))
          .arg(qs(r.step.fidelity)));
  auto set = [&](const char* key, const std::string& value, const QString& detail) {
    auto& c = cards_[key];
    c.value->setText(qs(value));
    c.detail->setText(detail);
    c.value->setStyleSheet(QString());
  };
  set("wall_days", format_si(r.run.wall_days) + " days",
      QString("%1 steps, goodput %2 %, %3 expected interruptions")
          .arg(r.run.steps)
          .arg(qs(format_fixed(100 * r.run.goodput, 1)))
          .arg(qs(format_fixed(r.run.interruptions, 0))));
  set("gpu_hours", format_si(r.run.gpu_hours) + " GPU-h",
      QString("%1 GPUs × %2 days").arg(s.cluster.gpus).arg(qs(format_si(r.run.wall_days))));
  set("cost", "$" + format_si(r.cost.total_usd),
      QString("$%1 per million tokens at $%2/GPU-hour; energy %3 MWh")
          .arg(qs(format_si(r.cost.usd_per_million_tokens)))
          .arg(qs(format_fixed(r.cost.gpu_hour_usd, 2)))
          .arg(qs(format_si(r.cost.energy_mwh))));
  set("mfu", format_fixed(100 * r.step.mfu, 2) + " %",
      QString("HFU %1 %, step time %2 s")
          .arg(qs(format_fixed(100 * r.step.hfu, 2)))
          .arg(qs(format_si(r.step.step_time.value))));
  set("tokens_per_s_per_gpu", format_si(r.step.tokens_per_s_per_gpu),
      QString("%1 tokens per step").arg(qs(format_si(r.step.tokens))));
  const auto& m = r.step.memory;
  set("memory",
      format_fixed(to_gib(m.total()), 1) + " / " + format_fixed(to_gib(m.capacity), 1) + " GiB",
      m.fits() ? QString("fits (largest stage: %1)").arg(m.stage)
               : QString("DOES NOT FIT (stage %1)").arg(m.stage));
  if (!m.fits()) cards_["memory"].value->setStyleSheet("color: #c00000;");
  QStringList lines;
  for (const auto& w : r.warnings) lines << "warning: " + qs(w).toHtmlEscaped();
  for (const auto& n : s.notes) lines << "note: " + qs(n).toHtmlEscaped();
  notes_->setText(lines.join("<br>"));
}

QString SummaryPanel::card_value(const QString& key) const {
  auto it = cards_.find(key);
  return it == cards_.end() ? QString() : it->second.value->text();
}

QString SummaryPanel::card_detail(const QString& key) const {
  auto it = cards_.find(key);
  return it == cards_.end() ? QString() : it->second.detail->text();
}

QString SummaryPanel::text() const {
  QStringList out;
  for (const auto& key : order_) {
    const auto& c = cards_.at(key);
    out << c.title->text() + ": " + c.value->text() + "  (" + c.detail->text() + ")";
  }
  return out.join("\n");
}

// ---- timeline ------------------------------------------------------------------------------

namespace {
constexpr double kLeft = 90;       // room for the stage labels
constexpr double kWidth = 1200;    // px for the whole step at zoom 1
constexpr double kRow = 26;
constexpr double kGap = 6;
constexpr double kTop = 34;        // room for the legend

// A "nice" tick step (1, 2 or 5 × 10^k) giving about `n` ticks over `span`.
double nice_step(double span, int n) {
  if (!(span > 0)) return 1;
  const double raw = span / n;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double k : {1.0, 2.0, 5.0, 10.0})
    if (raw <= k * mag) return k * mag;
  return 10 * mag;
}
}  // namespace

TimelineView::TimelineView(QWidget* parent) : QGraphicsView(parent) {
  setScene(new QGraphicsScene(this));
  setRenderHint(QPainter::Antialiasing, false);
  setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
  setAlignment(Qt::AlignLeft | Qt::AlignTop);
  setDragMode(QGraphicsView::ScrollHandDrag);
  clear(tr("No result yet."));
}

void TimelineView::clear(const QString& message) {
  sketch_ = TimelineSketch{};
  scene()->clear();
  scene()->addSimpleText(message);
  zoom_ = 1.0;
  fit_ = 1.0;
  resetTransform();
}

void TimelineView::zoom_by(double factor) {
  const double next = std::clamp(zoom_ * factor, 1.0, 500.0);
  const double applied = next / zoom_;
  zoom_ = next;
  scale(applied, 1.0);
}

void TimelineView::wheelEvent(QWheelEvent* event) {
  const int dy = event->angleDelta().y();
  if (dy == 0) {
    QGraphicsView::wheelEvent(event);
    return;
  }
  zoom_by(dy > 0 ? 1.25 : 0.8);
  event->accept();
}

void TimelineView::show_sketch(const TimelineSketch& sk) {
  clear(QString());
  scene()->clear();
  sketch_ = sk;
  if (sk.stages == 0 || sk.blocks.empty() || !(sk.makespan_s > 0)) {
    scene()->addSimpleText(tr("No pipeline stages in this result."));
    return;
  }
  const double px_per_s = kWidth / sk.makespan_s;
  auto x_of = [&](double t) { return kLeft + t * px_per_s; };
  auto y_of = [&](int stage) { return kTop + stage * (kRow + kGap); };

  auto text = [&](const QString& s, double x, double y, bool bold = false) {
    auto* item = scene()->addSimpleText(s);
    if (bold) {
      QFont f = item->font();
      f.setBold(true);
      item->setFont(f);
    }
    item->setPos(x, y);
    // Labels keep their size when the time axis is zoomed.
    item->setFlag(QGraphicsItem::ItemIgnoresTransformations);
    return item;
  };

  const QColor fwd(0, 114, 178), bwd(230, 159, 0), idle(225, 225, 225);
  // Legend.
  double lx = kLeft;
  for (const auto& [name, color] : {std::pair<QString, QColor>{tr("forward"), fwd},
                                    {tr("backward"), bwd},
                                    {tr("idle (bubble)"), idle}}) {
    auto* sw = scene()->addRect(0, 0, 14, 14, QPen(Qt::black, 0), QBrush(color));
    sw->setPos(lx, 6);
    sw->setFlag(QGraphicsItem::ItemIgnoresTransformations);
    text(name, lx + 18, 5);
    lx += 150;
  }
  text(tr("schedule: %1, %2 stages, %3 micro-batches")
           .arg(QString::fromStdString(sk.schedule))
           .arg(sk.stages)
           .arg(sk.micro_batches),
       lx + 20, 5, true);

  for (int s = 0; s < sk.stages; ++s) {
    text(tr("stage %1").arg(s), 6, y_of(s) + 5);
    scene()->addRect(x_of(0), y_of(s), kWidth, kRow, Qt::NoPen, QBrush(idle));
  }
  for (const auto& b : sk.blocks) {
    const double w = std::max((b.end_s - b.start_s) * px_per_s, 0.0);
    // No outline (it would swamp narrow blocks); odd micro-batches a shade darker so
    // neighbours stay apart when zoomed in.
    const QColor base = b.backward ? bwd : fwd;
    auto* r = scene()->addRect(x_of(b.start_s), y_of(b.stage), w, kRow, Qt::NoPen,
                               QBrush(b.micro_batch % 2 ? base.darker(125) : base));
    r->setToolTip(tr("stage %1, micro-batch %2, %3: %4 – %5 s")
                      .arg(b.stage)
                      .arg(b.micro_batch)
                      .arg(b.backward ? tr("backward") : tr("forward"))
                      .arg(b.start_s, 0, 'g', 4)
                      .arg(b.end_s, 0, 'g', 4));
  }
  // Time axis in seconds.
  const double axis_y = y_of(sk.stages) + 2;
  QPen axis_pen(Qt::black);
  axis_pen.setWidth(0);
  scene()->addLine(x_of(0), axis_y, x_of(sk.makespan_s), axis_y, axis_pen);
  const double step = nice_step(sk.makespan_s, 10);
  for (double t = 0; t <= sk.makespan_s * 1.0001; t += step) {
    scene()->addLine(x_of(t), axis_y, x_of(t), axis_y + 5, axis_pen);
    text(QString::number(t, 'g', 4), x_of(t) - 8, axis_y + 7);
  }
  text(tr("time within one step (s)\n%1.\nMouse wheel: zoom the time axis; drag: pan.")
           .arg(QString::fromStdString(sk.note)),
       kLeft, axis_y + 28);
  setSceneRect(QRectF(0, 0, kLeft + kWidth + 30, axis_y + 90));
  fit_width();
}

void TimelineView::fit_width() {
  // Zoom 1 shows the whole step across the viewport; the wheel zooms in from there.
  const double scene_w = sceneRect().width();
  const double view_w = viewport()->width() - 4;
  fit_ = scene_w > 0 && view_w > 50 ? std::min(1.0, view_w / scene_w) : 1.0;
  setTransform(QTransform::fromScale(fit_ * zoom_, 1.0));
}

void TimelineView::resizeEvent(QResizeEvent* event) {
  QGraphicsView::resizeEvent(event);
  fit_width();
}

// ---- compare -------------------------------------------------------------------------------

ComparePanel::ComparePanel(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  table_ = new QTableWidget(this);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  table_->setSizeAdjustPolicy(QAbstractScrollArea::AdjustToContents);
  table_->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Maximum);
  layout->addWidget(table_);
  chart_ = new ChartAdapter(this);
  chart_->setMinimumHeight(320);
  layout->addWidget(chart_, 1);
  rebuild();
}

void ComparePanel::add_pin(const QString& label, const Report& r) {
  pins_.push_back({label, key_metrics(r)});
  rebuild();
}

void ComparePanel::clear_pins() {
  pins_.clear();
  rebuild();
}

double ComparePanel::delta(int row, int pin) const {
  if (pins_.empty() || pin < 0 || pin >= pin_count() || row < 0) return 0.0;
  const auto& base = pins_.front().metrics;
  const auto& mine = pins_[static_cast<std::size_t>(pin)].metrics;
  const auto r = static_cast<std::size_t>(row);
  if (r >= base.size() || r >= mine.size()) return 0.0;
  return delta_percent(mine[r].value, base[r].value);
}

void ComparePanel::rebuild() {
  table_->clear();
  if (pins_.empty()) {
    table_->setRowCount(0);
    table_->setColumnCount(0);
    chart_->clear(tr("Pin results (Pin button) to compare them here"));
    return;
  }
  const auto& base = pins_.front().metrics;
  table_->setRowCount(static_cast<int>(base.size()));
  table_->setColumnCount(pin_count());
  QStringList rows, cols;
  for (const auto& m : base)
    rows << QString::fromStdString(m.unit.empty() ? m.name : m.name + " (" + m.unit + ")");
  for (int p = 0; p < pin_count(); ++p)
    cols << (p == 0 ? tr("%1 (base)") : QStringLiteral("%1"))
                .arg(pins_[static_cast<std::size_t>(p)].label);
  table_->setVerticalHeaderLabels(rows);
  table_->setHorizontalHeaderLabels(cols);
  for (int p = 0; p < pin_count(); ++p) {
    const auto& ms = pins_[static_cast<std::size_t>(p)].metrics;
    for (int r = 0; r < static_cast<int>(ms.size()) && r < table_->rowCount(); ++r) {
      QString cell = QString::fromStdString(format_si(ms[static_cast<std::size_t>(r)].value));
      if (p > 0) {
        const double d = delta(r, p);
        cell += QString("  (%1%2 %)").arg(d >= 0 ? "+" : "").arg(QString::fromStdString(format_fixed(d, 1)));
      }
      table_->setItem(r, p, new QTableWidgetItem(cell));
    }
  }
  // Bars: each metric relative to the first pin (100 % = base), so different units share one
  // axis. The GPU count is left out (it is an input, shown in the table).
  QStringList categories;
  std::vector<ChartSeries> sets;
  for (std::size_t k = 1; k < base.size(); ++k)
    categories << QString::fromStdString(base[k].short_name);
  for (const auto& pin : pins_) {
    ChartSeries set{pin.label, {}, {}};
    for (std::size_t k = 1; k < base.size() && k < pin.metrics.size(); ++k)
      set.y.push_back(100.0 + delta_percent(pin.metrics[k].value, base[k].value));
    sets.push_back(std::move(set));
  }
  chart_->bar_set(tr("Pinned results relative to %1").arg(pins_.front().label), categories,
                  sets, tr("% of base pin"));
}

}  // namespace clustercost
