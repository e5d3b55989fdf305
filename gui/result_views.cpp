#include "gui/result_views.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include <QBrush>
#include <QFrame>
#include <QGraphicsRectItem>
#include <QGraphicsScene>
#include <QGraphicsSimpleTextItem>
#include <QGridLayout>
#include <QHeaderView>
#include <QHelpEvent>
#include <QPainter>
#include <QPen>
#include <QVBoxLayout>
#include <QResizeEvent>
#include <QToolTip>
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
    // Cards grow with their text (P10/P50/P90 lines) instead of clipping it.
    frame->setMinimumWidth(170);
    frame->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Minimum);
    auto* box = new QVBoxLayout(frame);
    Card c;
    c.title = new QLabel(title, frame);
    QFont tf = c.title->font();
    tf.setBold(true);
    c.title->setFont(tf);
    c.value = new QLabel("–", frame);
    QFont vf = c.value->font();
    vf.setPointSizeF(vf.pointSizeF() * 1.6);
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
  for (int col = 0; col < 3; ++col) grid->setColumnStretch(col, 1);
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
  // With a Monte Carlo campaign the cards give its spread (P10 · P50 · P90 over the replicas).
  const bool mc = r.run.replicas > 0;
  set("wall_days", format_si(r.run.wall_days) + " days",
      QString("%1 steps, goodput %2 %, %3 %4 interruptions")
              .arg(r.run.steps)
              .arg(qs(format_fixed(100 * r.run.goodput, 1)))
              .arg(qs(format_fixed(r.run.interruptions, 0)))
              .arg(mc ? "mean" : "expected") +
          (mc ? QString("\nP10 %1 · P50 %2 · P90 %3 days over %4 replicas")
                    .arg(qs(format_fixed(r.run.wall_days_dist.p10, 1)))
                    .arg(qs(format_fixed(r.run.wall_days_dist.p50, 1)))
                    .arg(qs(format_fixed(r.run.wall_days_dist.p90, 1)))
                    .arg(r.run.replicas)
              : QString()));
  set("gpu_hours", format_si(r.run.gpu_hours) + " GPU-h",
      QString("%1 GPUs × %2 days").arg(s.cluster.gpus).arg(qs(format_si(r.run.wall_days))));
  set("cost", "$" + format_si(r.cost.total_usd),
      QString("$%1 per million tokens at $%2/GPU-hour; energy %3 MWh")
          .arg(qs(format_si(r.cost.usd_per_million_tokens)))
          .arg(qs(format_fixed(r.cost.gpu_hour_usd, 2)))
          .arg(qs(format_si(r.cost.energy_mwh))) +
          (mc ? QString("\nP10 $%1 · P50 $%2 · P90 $%3")
                    .arg(qs(format_si(r.cost.total_usd_dist.p10)))
                    .arg(qs(format_si(r.cost.total_usd_dist.p50)))
                    .arg(qs(format_si(r.cost.total_usd_dist.p90)))
              : QString()));
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
constexpr double kLeft = 130;      // room for the stage and stream labels
constexpr double kWidth = 1200;    // px for the whole step at zoom 1
constexpr double kTop = 72;        // room for the title and two rows of legend
constexpr double kStageGap = 6;    // between two stages' groups of rows
constexpr int kTaskIndex = 0;      // QGraphicsItem::data key: index into PipelineTimeline::tasks

// A "nice" tick step (1, 2 or 5 × 10^k) giving about `n` ticks over `span`.
double nice_step(double span, int n) {
  if (!(span > 0)) return 1;
  const double raw = span / n;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double k : {1.0, 2.0, 5.0, 10.0})
    if (raw <= k * mag) return k * mag;
  return 10 * mag;
}

// Okabe & Ito's colour-blind-safe palette (jfly.uni-koeln.de/color, 2008), one per legend group.
struct Group {
  const char* name;
  QColor color;
};
const Group kGroups[] = {{"forward", QColor(0, 114, 178)},     {"backward", QColor(230, 159, 0)},
                         {"weight grad", QColor(213, 94, 0)},  {"TP comm", QColor(204, 121, 167)},
                         {"EP comm", QColor(0, 158, 115)},     {"PP send", QColor(86, 180, 233)},
                         {"DP comm", QColor(240, 228, 66)},    {"optimizer", QColor(0, 0, 0)}};

QColor color_of(TaskKind kind) {
  const std::string g = task_group(kind);
  for (const auto& k : kGroups)
    if (g == k.name) return k.color;
  return Qt::gray;
}

constexpr StreamLane kLanes[] = {StreamLane::Compute,      StreamLane::WgradCompute,
                                 StreamLane::Comm,         StreamLane::CommAsync,
                                 StreamLane::SendForward,
                                 StreamLane::SendBackward, StreamLane::DataParallel};
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
  timeline_ = PipelineTimeline{};
  blocks_.clear();
  legend_.clear();
  caption_.clear();
  px_per_s_ = 0;
  scene()->clear();
  if (!message.isEmpty()) scene()->addSimpleText(message);
  zoom_ = 1.0;
  fit_ = 1.0;
  resetTransform();
}

void TimelineView::zoom_by(double factor) {
  const double next = std::clamp(zoom_ * factor, 1.0, 2000.0);
  const double applied = next / zoom_;
  zoom_ = next;
  scale(applied, 1.0);
  place_legend();
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

double TimelineView::right_edge_s() const {
  if (blocks_.empty() || !(px_per_s_ > 0)) return 0.0;
  double right = kLeft;
  for (const auto* b : blocks_) right = std::max(right, b->rect().right());
  return (right - kLeft) / px_per_s_;
}

QString TimelineView::describe(std::size_t task) const {
  const TaskRecord& r = timeline_.tasks.at(task);
  QString what = QString::fromStdString(task_group(r.kind));
  switch (r.kind) {
    case TaskKind::BackwardInput: what = tr("backward (input gradient)"); break;
    case TaskKind::SendActivation: what = tr("send activations to stage %1").arg(r.peer_stage); break;
    case TaskKind::SendGradient: what = tr("send gradients to stage %1").arg(r.peer_stage); break;
    case TaskKind::DpReduceScatter: what = tr("DP gradient reduce-scatter bucket"); break;
    case TaskKind::DpAllGather: what = tr("DP parameter all-gather bucket"); break;
    default: break;
  }
  QString where = tr("stage %1, %2 stream").arg(r.stage).arg(qs(lane_name(r.lane)));
  if (r.micro_batch >= 0) where += tr(", micro-batch %1").arg(r.micro_batch);
  if (r.chunk >= 0) where += tr(", chunk %1").arg(r.chunk);
  const double t0 = r.start.seconds().value, t1 = r.end.seconds().value;
  return tr("%1\n%2\n%3 – %4 s (%5 ms)")
      .arg(what, where)
      .arg(t0, 0, 'f', 6)
      .arg(t1, 0, 'f', 6)
      .arg((t1 - t0) * 1e3, 0, 'g', 4);
}

bool TimelineView::viewportEvent(QEvent* event) {
  // One tooltip lookup on hover instead of a tooltip string on each of tens of thousands of
  // blocks.
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    for (QGraphicsItem* item : items(help->pos())) {
      const QVariant v = item->data(kTaskIndex);
      if (v.isValid()) {
        QToolTip::showText(help->globalPos(), describe(v.toULongLong()), this);
        return true;
      }
    }
    QToolTip::hideText();
    return true;
  }
  return QGraphicsView::viewportEvent(event);
}

void TimelineView::show_timeline(const PipelineTimeline& t, const QString& note) {
  clear(QString());
  if (!t.error.empty()) {
    scene()->addSimpleText(tr("No discrete-event timeline: %1").arg(qs(t.error)));
    return;
  }
  if (t.stages == 0 || t.tasks.empty() || !(t.step_time_s > 0)) {
    scene()->addSimpleText(tr("No pipeline tasks in this result."));
    return;
  }
  timeline_ = t;
  px_per_s_ = kWidth / t.step_time_s;
  auto x_of = [&](double sec) { return kLeft + sec * px_per_s_; };

  auto text = [&](const QString& s, double x, double y, double point_size = 0, bool bold = false) {
    auto* item = scene()->addSimpleText(s);
    QFont f = item->font();
    if (point_size > 0) f.setPointSizeF(point_size);
    f.setBold(bold);
    item->setFont(f);
    item->setPos(x, y);
    // Labels keep their size when the time axis is zoomed.
    item->setFlag(QGraphicsItem::ItemIgnoresTransformations);
    return item;
  };

  // Rows: the streams some shown stage uses, in lane order; the compute row is the tallest (it
  // carries the schedule), and rows grow when few stages are shown.
  bool used[kStreamLanes] = {};
  for (const auto& r : t.tasks) used[static_cast<int>(r.lane)] = true;
  const double unit = t.shown_stages.size() <= 8 ? 1.6 : 1.0;
  const double compute_h = 12 * unit, comm_h = 7 * unit;
  const bool lane_labels = comm_h >= 11;
  // Row top of (shown stage index, lane); -1 when the lane is not drawn.
  std::vector<std::array<double, kStreamLanes>> row_y;
  std::vector<int> row_of_stage(static_cast<std::size_t>(t.stages), -1);
  double y = kTop;
  QPen axis_pen(Qt::black);
  axis_pen.setWidth(0);
  for (std::size_t k = 0; k < t.shown_stages.size(); ++k) {
    const int st = t.shown_stages[k];
    if (k > 0 && st != t.shown_stages[k - 1] + 1) {
      // The stages the filter hides.
      text(tr("… stages %1–%2 not shown (first and last 8 of %3) …")
               .arg(t.shown_stages[k - 1] + 1)
               .arg(st - 1)
               .arg(t.stages),
           kLeft + 8, y - 2, 8);
      y += 16;
    }
    std::array<double, kStreamLanes> ys;
    ys.fill(-1);
    const double group_top = y;
    for (StreamLane lane : kLanes) {
      const int li = static_cast<int>(lane);
      if (!used[li]) continue;
      const double h = lane == StreamLane::Compute ? compute_h : comm_h;
      ys[static_cast<std::size_t>(li)] = y;
      scene()->addRect(x_of(0), y, kWidth, h, Qt::NoPen,
                       QBrush(lane == StreamLane::Compute ? QColor(222, 222, 222)
                                                          : QColor(238, 238, 238)));
      if (lane_labels) text(qs(lane_name(lane)), 62, y + h / 2 - 7, 7.5);
      y += h + 1;
    }
    text(tr("stage %1").arg(st), 6, group_top + (lane_labels ? 0 : (y - group_top) / 2 - 8));
    row_y.push_back(ys);
    row_of_stage[static_cast<std::size_t>(st)] = static_cast<int>(row_y.size()) - 1;
    y += kStageGap;
  }

  // One block per task record. No outline (it would swamp narrow blocks); on the compute row
  // odd micro-batches are a shade darker so neighbours stay apart when zoomed in.
  blocks_.reserve(t.tasks.size());
  for (std::size_t k = 0; k < t.tasks.size(); ++k) {
    const TaskRecord& r = t.tasks[k];
    // pipeline_timeline keeps only the shown stages; a hand-made timeline may not.
    if (r.stage < 0 || r.stage >= t.stages) continue;
    const int row_index = row_of_stage[static_cast<std::size_t>(r.stage)];
    if (row_index < 0) continue;
    const auto row = static_cast<std::size_t>(row_index);
    const int li = static_cast<int>(r.lane);
    const double h = r.lane == StreamLane::Compute ? compute_h : comm_h;
    const double t0 = r.start.seconds().value, t1 = r.end.seconds().value;
    QColor c = color_of(r.kind);
    if (r.lane == StreamLane::Compute && r.micro_batch % 2 == 1 && r.kind != TaskKind::Optimizer)
      c = c.darker(120);
    auto* item = scene()->addRect(x_of(t0), row_y[row][static_cast<std::size_t>(li)],
                                  std::max(t1 - t0, 0.0) * px_per_s_, h, Qt::NoPen, QBrush(c));
    item->setData(kTaskIndex, QVariant::fromValue<qulonglong>(k));
    blocks_.push_back(item);
  }

  // Title and legend.
  text(tr("One step, simulated: %1, %2 stages, %3 micro-batches, %4 s")
           .arg(qs(t.schedule))
           .arg(t.stages)
           .arg(t.micro_batches)
           .arg(qs(format_si(t.step_time_s))),
       6, 4, 0, true);
  legend_.clear();
  for (const auto& g : kGroups) {
    auto* sw = scene()->addRect(0, 0, 12, 12, QPen(Qt::black, 0), QBrush(g.color));
    sw->setFlag(QGraphicsItem::ItemIgnoresTransformations);
    legend_.push_back({sw, text(qs(g.name), 0, 0)});
  }

  // Time axis in seconds.
  const double axis_y = y;
  scene()->addLine(x_of(0), axis_y, x_of(t.step_time_s), axis_y, axis_pen);
  const double step = nice_step(t.step_time_s, 10);
  for (double tick = 0; tick <= t.step_time_s * 1.0001; tick += step) {
    scene()->addLine(x_of(tick), axis_y, x_of(tick), axis_y + 5, axis_pen);
    text(QString::number(tick, 'g', 4), x_of(tick) - 8, axis_y + 7);
  }
  text(tr("time within one step (s)"), x_of(t.step_time_s / 2) - 60, axis_y + 24, 0, true);
  QStringList lines;
  lines << tr("Discrete-event simulation (DES) of pipeline replica 0: data-parallel replica 0, "
              "TP/CP rank 0, one GPU per stage; %1 of %2 task records drawn.")
               .arg(t.tasks.size())
               .arg(t.total_tasks);
  if (!lane_labels) {
    QStringList names;
    for (StreamLane lane : kLanes)
      if (used[static_cast<int>(lane)]) names << qs(lane_name(lane));
    lines << tr("Rows of each stage, top to bottom: its %1 streams.").arg(names.join(", "));
  }
  if (!note.isEmpty()) lines << note;
  caption_ = lines.join("\n");
  setSceneRect(QRectF(0, 0, kLeft + kWidth + 30, axis_y + 48));
  fit_width();
}

void TimelineView::fit_width() {
  // Zoom 1 shows the whole step across the viewport; the wheel zooms in from there.
  const double scene_w = sceneRect().width();
  const double view_w = viewport()->width() - 4;
  fit_ = scene_w > 0 && view_w > 50 ? std::min(1.0, view_w / scene_w) : 1.0;
  setTransform(QTransform::fromScale(fit_ * zoom_, 1.0));
  place_legend();
}

void TimelineView::place_legend() {
  // The legend's items keep their pixel size whatever the horizontal scale, so their places
  // are set in screen pixels: 118 px apart, wrapping onto a second row in a narrow window.
  const double scale = fit_ * zoom_;
  const double room = std::max(300.0, viewport()->width() > 50 ? viewport()->width() - 12.0
                                                                : kLeft + kWidth);
  const int per_row = std::max(1, static_cast<int>(room / 118));
  for (std::size_t i = 0; i < legend_.size(); ++i) {
    const double px = 6 + 118.0 * static_cast<double>(static_cast<int>(i) % per_row);
    const double y = 28 + 20.0 * static_cast<double>(static_cast<int>(i) / per_row);
    legend_[i].first->setPos(px / scale, y + 2);
    legend_[i].second->setPos((px + 16) / scale, y);
  }
}

QImage TimelineView::render_image() {
  // At zoom 1 in scene units (the labels ignore transformations, so the scene is drawn 1:1),
  // twice the pixels for print.
  const QRectF src = sceneRect();
  QImage image(src.size().toSize() * 2, QImage::Format_ARGB32);
  image.setDevicePixelRatio(2.0);
  image.fill(Qt::white);
  if (!scene()) return image;
  // The legend laid out for the unscaled scene.
  for (std::size_t i = 0; i < legend_.size(); ++i) {
    legend_[i].first->setPos(6 + 118.0 * static_cast<double>(i), 30);
    legend_[i].second->setPos(22 + 118.0 * static_cast<double>(i), 28);
  }
  {
    QPainter painter(&image);
    painter.setRenderHint(QPainter::Antialiasing);
    scene()->render(&painter, QRectF(QPointF(0, 0), src.size()), src);
  }
  place_legend();
  return image;
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
  chart_->setMinimumHeight(220);
  layout->addWidget(chart_, 1);
  rebuild();
}

void ComparePanel::add_pin(const QString& label, const Report& r) {
  const auto& m = r.step.memory;
  pins_.push_back({label, qs(layout_label(r)), key_metrics(r), m.fits(), to_gib(m.total()),
                   to_gib(m.capacity)});
  rebuild();
}

void ComparePanel::clear_pins() {
  pins_.clear();
  rebuild();
}

QString ComparePanel::header(int pin) const {
  if (pin < 0 || pin >= pin_count()) return QString();
  const Pin& p = pins_[static_cast<std::size_t>(pin)];
  QString h = p.label + (p.label == p.layout ? QString() : QStringLiteral("\n") + p.layout);
  if (pin == 0) h += tr(" (base)");
  if (!p.fits) h += tr("\nDOES NOT FIT in HBM");
  return h;
}

bool ComparePanel::feasible(int pin) const {
  return pin >= 0 && pin < pin_count() && pins_[static_cast<std::size_t>(pin)].fits;
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
  table_->setRowCount(kTextRows + static_cast<int>(base.size()));
  table_->setColumnCount(pin_count());
  QStringList rows = {tr("layout"), tr("memory per GPU (GiB)")}, cols;
  for (const auto& m : base)
    rows << QString::fromStdString(m.unit.empty() ? m.name : m.name + " (" + m.unit + ")");
  for (int p = 0; p < pin_count(); ++p) cols << header(p);
  table_->setVerticalHeaderLabels(rows);
  table_->setHorizontalHeaderLabels(cols);
  const QColor infeasible(176, 0, 0);
  for (int p = 0; p < pin_count(); ++p) {
    const Pin& pin = pins_[static_cast<std::size_t>(p)];
    table_->setItem(0, p, new QTableWidgetItem(pin.layout));
    auto* fit = new QTableWidgetItem(
        tr("%1 of %2: %3")
            .arg(QString::fromStdString(format_fixed(pin.memory_gib, 1)),
                 QString::fromStdString(format_fixed(pin.capacity_gib, 1)),
                 pin.fits ? tr("fits") : tr("DOES NOT FIT")));
    if (!pin.fits) fit->setForeground(infeasible);
    table_->setItem(1, p, fit);
    const auto& ms = pin.metrics;
    for (int r = 0; r < static_cast<int>(ms.size()) && r < static_cast<int>(base.size()); ++r) {
      QString cell = QString::fromStdString(format_si(ms[static_cast<std::size_t>(r)].value));
      if (p > 0) {
        const double d = delta(r, p);
        cell += QString("  (%1%2 %)").arg(d >= 0 ? "+" : "").arg(QString::fromStdString(format_fixed(d, 1)));
      }
      auto* item = new QTableWidgetItem(cell);
      // An infeasible layout's time and cost are what it would take if it fitted: shown, but
      // marked, so that "3 % cheaper" is not read as an option.
      if (!pin.fits) {
        item->setForeground(infeasible);
        item->setToolTip(tr("This layout does not fit in HBM: it cannot run as configured."));
      }
      table_->setItem(kTextRows + r, p, item);
    }
  }
  // Bars: each metric relative to the first pin (100 % = base), so different units share one
  // axis. The GPU count is left out (it is an input, shown in the table).
  QStringList categories;
  std::vector<ChartSeries> sets;
  for (std::size_t k = 1; k < base.size(); ++k)
    categories << QString::fromStdString(base[k].short_name);
  for (int p = 0; p < pin_count(); ++p) {
    const Pin& pin = pins_[static_cast<std::size_t>(p)];
    // The legend names the layout (the table has the labels), whole, and marks infeasibility.
    ChartSeries set{pin.layout + (pin.fits ? QString() : tr(" (does not fit)")), {}, {}};
    for (std::size_t k = 1; k < base.size() && k < pin.metrics.size(); ++k)
      set.y.push_back(100.0 + delta_percent(pin.metrics[k].value, base[k].value));
    sets.push_back(std::move(set));
  }
  chart_->bar_set(tr("Pinned results relative to the base pin (%1)").arg(pins_.front().layout),
                  categories, sets, tr("% of base"));
}

QString ComparePanel::to_html() const {
  QString html = "<table id=\"pins\"><tr><th class=\"l\"></th>";
  for (int p = 0; p < pin_count(); ++p)
    html += "<th" + QString(feasible(p) ? "" : " class=\"warn\"") + ">" +
            header(p).toHtmlEscaped().replace("\n", "<br>") + "</th>";
  html += "</tr>\n";
  for (int r = 0; r < table_->rowCount(); ++r) {
    html += "<tr><td class=\"l\">" + table_->verticalHeaderItem(r)->text().toHtmlEscaped() + "</td>";
    for (int p = 0; p < pin_count(); ++p) {
      const QTableWidgetItem* item = table_->item(r, p);
      html += "<td" + QString(feasible(p) ? "" : " class=\"warn\"") + ">" +
              (item ? item->text().toHtmlEscaped() : QString()) + "</td>";
    }
    html += "</tr>\n";
  }
  return html + "</table>\n";
}

}  // namespace clustercost
