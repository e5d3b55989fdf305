#include "gui/result_views.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include <QBrush>
#include <QFontMetricsF>
#include <QFrame>
#include <QScrollBar>
#include <QGraphicsRectItem>
#include <QGraphicsScene>
#include <QGraphicsSimpleTextItem>
#include <QStyleOptionGraphicsItem>
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
constexpr int kPanelPx = 130;      // label panel of a zoomed view (viewport pixels)

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

/// One row of the timeline: the tasks of one GPU's stream, painted with level of detail.
class TimelineRow : public QGraphicsItem {
 public:
  enum { Type = UserType + 17 };
  TimelineRow(const PipelineTimeline* t, double y, double h, double px_per_s, bool compute,
              std::size_t* painted)
      : t_(t), y_(y), h_(h), px_per_s_(px_per_s), compute_(compute), painted_(painted) {
    // exposedRect in paint(): only the visible part of the row is walked.
    setFlag(QGraphicsItem::ItemUsesExtendedStyleOption);
  }
  int type() const override { return Type; }

  /// Adds task `index` (rows are filled in start order, see TimelineView::show_timeline).
  std::size_t add(std::size_t index) {
    const TaskRecord& r = t_->tasks[index];
    const double t0 = r.start.seconds().value, t1 = r.end.seconds().value;
    tasks_.push_back(index);
    start_.push_back(t0);
    max_dur_ = std::max(max_dur_, t1 - t0);
    right_ = std::max(right_, t1);
    return tasks_.size() - 1;
  }
  std::size_t size() const { return tasks_.size(); }
  double right_s() const { return right_; }
  double y() const { return y_; }
  double h() const { return h_; }

  QRectF boundingRect() const override { return QRectF(kLeftEdge, y_, kRowWidth, h_); }

  /// The task covering time `sec`, or the nearest one within `tol` seconds; -1 when none.
  std::int64_t task_at(double sec, double tol) const {
    auto it = std::upper_bound(start_.begin(), start_.end(), sec + tol);
    std::int64_t best = -1;
    double best_d = tol;
    for (auto k = static_cast<std::ptrdiff_t>(it - start_.begin()) - 1; k >= 0; --k) {
      const double s0 = start_[static_cast<std::size_t>(k)];
      if (s0 < sec - tol - max_dur_) break;
      const TaskRecord& r = t_->tasks[tasks_[static_cast<std::size_t>(k)]];
      const double e0 = r.end.seconds().value;
      const double d = sec < s0 ? s0 - sec : sec > e0 ? sec - e0 : 0.0;
      if (d < best_d || (d == 0 && best_d == 0 && best < 0)) {
        best_d = d;
        best = static_cast<std::int64_t>(tasks_[static_cast<std::size_t>(k)]);
        if (d == 0) break;  // the latest task that started before `sec` and covers it
      }
    }
    return best;
  }

  void paint(QPainter* painter, const QStyleOptionGraphicsItem* option, QWidget*) override {
    // Device pixels per scene unit along the time axis (the view's zoom, or the PDF's scale).
    const double sx = std::abs(painter->worldTransform().m11()) > 0
                          ? std::abs(painter->worldTransform().m11())
                          : 1.0;
    const QRectF area = option->exposedRect.isValid() ? option->exposedRect : boundingRect();
    const double lo = (area.left() - kLeftEdge) / px_per_s_, hi = (area.right() - kLeftEdge) / px_per_s_;
    auto k = static_cast<std::size_t>(
        std::lower_bound(start_.begin(), start_.end(), lo - max_dur_) - start_.begin());
    painter->setPen(Qt::NoPen);
    // A task whose right edge falls in a device pixel already painted adds nothing visible;
    // blocks stay at least one device pixel wide so that short ops remain visible.
    double painted_to = -1e300;  // device x up to which this row is painted
    for (; k < tasks_.size() && start_[k] <= hi; ++k) {
      const TaskRecord& r = t_->tasks[tasks_[k]];
      const double x0 = kLeftEdge + start_[k] * px_per_s_;
      const double x1 = kLeftEdge + r.end.seconds().value * px_per_s_;
      if (x1 < area.left()) continue;
      const double d1 = x1 * sx;
      if (d1 <= painted_to) continue;
      const double dx0 = std::max(x0 * sx, painted_to);
      const double dx1 = std::max(d1, std::floor(dx0) + 1.0);
      QColor c = color_of(r.kind);
      if (compute_ && r.micro_batch % 2 == 1 && r.kind != TaskKind::Optimizer) c = c.darker(120);
      // Blocks wider than a few pixels keep a one-pixel gap before the next op.
      const double gap = dx1 - dx0 > 4 ? 1.0 : 0.0;
      const QRectF block(dx0 / sx, y_, (dx1 - dx0 - gap) / sx, h_);
      painter->fillRect(block, c);
      painted_to = dx1;
      if (painted_) ++*painted_;
      // Zoomed in far enough, the block carries its op's name.
      if (dx1 - dx0 >= kLabelMinPx && h_ >= 10) label(painter, block, r, c);
    }
  }

  QString lane_label;   ///< the stream's name
  QString group_label;  ///< on a GPU's first row: "GPU g · stage s"
  static constexpr double kLabelMinPx = 48;  // narrowest block (device px) that gets a name

  /// Draws the op name of `r` inside `block` (item coordinates) at the device's scale.
  void label(QPainter* painter, const QRectF& block, const TaskRecord& r, const QColor& fill) const {
    const std::string& op = t_->op_name(r);
    if (op.empty()) return;
    const QRectF device = painter->worldTransform().mapRect(block).adjusted(3, 0, -2, 0);
    painter->save();
    painter->resetTransform();
    QFont f = painter->font();
    f.setPointSizeF(7);
    painter->setFont(f);
    painter->setPen(fill.lightness() < 140 ? Qt::white : Qt::black);
    const QFontMetricsF fm(f);
    painter->drawText(device, Qt::AlignLeft | Qt::AlignVCenter,
                      fm.elidedText(QString::fromStdString(op), Qt::ElideRight, device.width()));
    painter->restore();
  }

  static constexpr double kLeftEdge = kLeft;
  static constexpr double kRowWidth = kWidth;

 private:
  const PipelineTimeline* t_;
  double y_, h_, px_per_s_;
  bool compute_;
  std::size_t* painted_;
  std::vector<std::size_t> tasks_;  // indices into t_->tasks, by start time
  std::vector<double> start_;       // their start times (s)
  double max_dur_ = 0, right_ = 0;
};

TimelineView::TimelineView(QWidget* parent) : QGraphicsView(parent) {
  setScene(new QGraphicsScene(this));
  setRenderHint(QPainter::Antialiasing, false);
  setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
  setAlignment(Qt::AlignLeft | Qt::AlignTop);
  setDragMode(QGraphicsView::ScrollHandDrag);
  // Rows paint only their exposed part; repainting what changed keeps panning cheap.
  setViewportUpdateMode(QGraphicsView::MinimalViewportUpdate);
  clear(tr("No result yet."));
}

TimelineView::~TimelineView() = default;

void TimelineView::clear(const QString& message) {
  // The rows point into timeline_: remove them first.
  rows_.clear();
  ticks_.clear();
  where_.clear();
  legend_.clear();
  scene()->clear();
  timeline_ = PipelineTimeline{};
  caption_.clear();
  px_per_s_ = 0;
  if (!message.isEmpty()) scene()->addSimpleText(message);
  zoom_ = 1.0;
  fit_ = 1.0;
  resetTransform();
}

void TimelineView::zoom_by(double factor) {
  // Up to 10^5: a 10 µs op of a 20 s step then spans about 60 px.
  const double next = std::clamp(zoom_ * factor, 1.0, 1e5);
  const double applied = next / zoom_;
  zoom_ = next;
  scale(applied, 1.0);
  place_legend();
  // Zoomed in, drawForeground draws the axis for the visible seconds instead.
  for (auto* item : ticks_) item->setVisible(zoom_ <= 1.0);
}

void TimelineView::drawForeground(QPainter* painter, const QRectF&) {
  // Zoomed or panned away from the left edge: the stream labels and a time axis for the
  // visible seconds, in viewport pixels (at zoom 1 the scene's own labels and axis show).
  if (rows_.empty() || !(px_per_s_ > 0)) return;
  const QPointF origin = mapToScene(QPoint(0, 0));
  if (zoom_ <= 1.0 && origin.x() <= 1.0) return;
  painter->save();
  painter->resetTransform();
  const int panel = kPanelPx;
  const int vh = viewport()->height(), vw = viewport()->width();
  painter->fillRect(QRect(0, 0, panel, vh), Qt::white);
  // The legend, over the scrolled-away title.
  const int top = std::max(0, mapFromScene(QPointF(origin.x(), kTop)).y() - 4);
  painter->fillRect(QRect(0, 0, vw, top), Qt::white);
  QFont f = font();
  painter->setPen(Qt::black);
  for (std::size_t i = 0; i < std::size(kGroups); ++i) {
    const int x = 6 + 118 * static_cast<int>(i);
    if (top < 24) break;
    painter->fillRect(QRect(x, top - 20, 12, 12), kGroups[i].color);
    painter->drawRect(QRect(x, top - 20, 12, 12));
    painter->drawText(QPoint(x + 16, top - 10), qs(kGroups[i].name));
  }
  f.setPointSizeF(7.5);
  painter->setFont(f);
  for (const auto* row : rows_) {
    const int y0 = mapFromScene(QPointF(origin.x(), row->y())).y();
    const int h = std::max(1, static_cast<int>(std::lround(row->h())));
    painter->drawText(QRect(64, y0, panel - 66, h), Qt::AlignLeft | Qt::AlignVCenter, row->lane_label);
    if (!row->group_label.isEmpty())
      painter->drawText(QRect(4, y0, 60, 2 * h), Qt::AlignLeft | Qt::AlignTop | Qt::TextWordWrap,
                        row->group_label);
  }
  // Axis: ticks at a "nice" step over the visible seconds.
  const double t_lo = std::max(0.0, (origin.x() - kLeft) / px_per_s_);
  const double t_hi = std::min(timeline_.step_time_s,
                               (mapToScene(QPoint(vw, 0)).x() - kLeft) / px_per_s_);
  const int ay = mapFromScene(QPointF(origin.x(), axis_y_)).y();
  if (t_hi > t_lo && ay > 0 && ay < vh) {
    const double step = nice_step(t_hi - t_lo, 8);
    const int digits = std::max(0, static_cast<int>(std::ceil(-std::log10(step))));
    painter->drawLine(panel, ay, vw, ay);
    for (double tick = std::ceil(t_lo / step) * step; tick <= t_hi; tick += step) {
      const int x = mapFromScene(QPointF(kLeft + tick * px_per_s_, axis_y_)).x();
      if (x < panel) continue;
      painter->drawLine(x, ay, x, ay + 5);
      painter->drawText(QPoint(x - 8, ay + 18), QString::number(tick, 'f', digits));
    }
  }
  painter->restore();
}

bool TimelineView::show_window(double t0, double t1) {
  if (!(px_per_s_ > 0) || !(t1 > t0) || t0 < 0 || t0 >= timeline_.step_time_s) return false;
  t1 = std::min(t1, timeline_.step_time_s);
  zoom_by(timeline_.step_time_s / (t1 - t0) / zoom_);
  // The window's start at the viewport's left edge.
  // The window's start just right of the label panel drawForeground paints.
  horizontalScrollBar()->setValue(
      static_cast<int>(std::lround((kLeft + t0 * px_per_s_) * fit_ * zoom_)) - kPanelPx);
  return true;
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

int TimelineView::block_count() const {
  std::size_t n = 0;
  for (const auto* row : rows_) n += row->size();
  return static_cast<int>(n);
}

double TimelineView::right_edge_s() const {
  double right = 0;
  for (const auto* row : rows_)
    if (row->size() > 0) right = std::max(right, row->right_s());
  return right;
}

std::size_t TimelineView::take_painted_rects() {
  const std::size_t n = painted_rects_;
  painted_rects_ = 0;
  return n;
}

std::int64_t TimelineView::task_at(const QPointF& scene_pos) const {
  if (!(px_per_s_ > 0)) return -1;
  // Two device pixels of slack, so that ops narrower than a pixel can be hovered.
  const double scale = std::max(1e-9, fit_ * zoom_);
  const double tol = 2.0 / scale / px_per_s_;
  const double sec = (scene_pos.x() - kLeft) / px_per_s_;
  for (const auto* row : rows_)
    if (scene_pos.y() >= row->y() && scene_pos.y() < row->y() + row->h())
      return row->task_at(sec, tol);
  return -1;
}

QPointF TimelineView::task_center(std::size_t task) const {
  const auto& [row, pos] = where_.at(task);
  (void)pos;
  const TaskRecord& r = timeline_.tasks.at(task);
  const double mid = 0.5 * (r.start.seconds().value + r.end.seconds().value);
  const TimelineRow* item = rows_.at(static_cast<std::size_t>(row));
  return QPointF(kLeft + mid * px_per_s_, item->y() + item->h() / 2);
}

QString TimelineView::describe(std::size_t task) const {
  const TaskRecord& r = timeline_.tasks.at(task);
  QString what = QString::fromStdString(task_group(r.kind));
  switch (r.kind) {
    case TaskKind::BackwardInput: what = tr("backward (input gradient)"); break;
    case TaskKind::SendActivation: what = tr("send activations to stage %1").arg(r.peer_stage); break;
    case TaskKind::SendGradient: what = tr("send gradients to stage %1").arg(r.peer_stage); break;
    case TaskKind::DpReduceScatter: what = tr("DP gradient reduce-scatter"); break;
    case TaskKind::DpAllGather: what = tr("DP parameter all-gather"); break;
    default: break;
  }
  const std::string& op = timeline_.op_name(r);
  const QString title = op.empty() ? what : tr("%1 (%2)").arg(qs(op), what);
  QString where = r.gpu >= 0 ? tr("GPU %1, stage %2, %3 stream").arg(r.gpu).arg(r.stage).arg(qs(lane_name(r.lane)))
                             : tr("stage %1, %2 stream").arg(r.stage).arg(qs(lane_name(r.lane)));
  if (r.micro_batch >= 0) where += tr(", micro-batch %1").arg(r.micro_batch);
  if (r.chunk >= 0) where += tr(", chunk %1").arg(r.chunk);
  const double t0 = r.start.seconds().value, t1 = r.end.seconds().value;
  const double ms = (t1 - t0) * 1e3;
  return tr("%1\n%2\nduration %3 ms (%4 – %5 s)")
      .arg(title, where)
      .arg(ms, 0, 'g', 4)
      .arg(t0, 0, 'f', 6)
      .arg(t1, 0, 'f', 6);
}

bool TimelineView::viewportEvent(QEvent* event) {
  // One lookup on hover (binary search in the row under the mouse) instead of a tooltip
  // string per block.
  if (event->type() == QEvent::ToolTip) {
    auto* help = static_cast<QHelpEvent*>(event);
    const std::int64_t task = task_at(mapToScene(help->pos()));
    if (task >= 0) QToolTip::showText(help->globalPos(), describe(static_cast<std::size_t>(task)), this);
    else QToolTip::hideText();
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

  // Groups of rows: the drawn GPUs, or (a timeline without GPU ids) one per shown stage.
  std::vector<TimelineGpu> groups = timeline_.gpus;
  if (groups.empty())
    for (int st : timeline_.shown_stages) groups.push_back({-1, st});
  auto group_of = [&](const TaskRecord& r) -> int {
    for (std::size_t g = 0; g < groups.size(); ++g)
      if (groups[g].stage == r.stage && (groups[g].gpu < 0 || groups[g].gpu == r.gpu))
        return static_cast<int>(g);
    return -1;
  };
  // Group of each task, and the streams each group uses.
  std::vector<int> task_group_index(timeline_.tasks.size(), -1);
  std::vector<std::array<bool, kStreamLanes>> used(groups.size());
  for (auto& u : used) u.fill(false);
  {
    // GPU id → group, for the op-level timeline's many tasks.
    std::map<std::pair<int, int>, int> index;
    for (std::size_t g = 0; g < groups.size(); ++g)
      index[{groups[g].gpu, groups[g].stage}] = static_cast<int>(g);
    for (std::size_t k = 0; k < timeline_.tasks.size(); ++k) {
      const TaskRecord& r = timeline_.tasks[k];
      auto it = index.find({r.gpu, r.stage});
      const int g = it != index.end() ? it->second : group_of(r);
      task_group_index[k] = g;
      if (g >= 0) used[static_cast<std::size_t>(g)][static_cast<std::size_t>(r.lane)] = true;
    }
  }
  bool any_used[kStreamLanes] = {};
  for (const auto& u : used)
    for (int li = 0; li < kStreamLanes; ++li) any_used[li] = any_used[li] || u[static_cast<std::size_t>(li)];

  // Rows: the streams each GPU uses, in lane order; the compute row is the tallest (it carries
  // the schedule), and rows grow when few GPUs are shown.
  const double unit = groups.size() <= 4 ? 2.2 : groups.size() <= 8 ? 1.6 : 1.0;
  const double compute_h = 12 * unit, comm_h = 7 * unit;
  const bool lane_labels = comm_h >= 11;
  std::vector<std::array<int, kStreamLanes>> row_of(groups.size());  // row index or -1
  double y = kTop;
  QPen axis_pen(Qt::black);
  axis_pen.setWidth(0);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const int st = groups[g].stage;
    if (g > 0 && st > groups[g - 1].stage + 1) {
      // The stages the filter hides.
      text(tr("… stages %1–%2 not shown (first and last 8 of %3) …")
               .arg(groups[g - 1].stage + 1)
               .arg(st - 1)
               .arg(timeline_.stages),
           kLeft + 8, y - 2, 8);
      y += 16;
    }
    row_of[g].fill(-1);
    bool first_row = true;
    const double group_top = y;
    for (StreamLane lane : kLanes) {
      const int li = static_cast<int>(lane);
      if (!used[g][static_cast<std::size_t>(li)]) continue;
      const bool compute = lane == StreamLane::Compute;
      const double h = compute ? compute_h : comm_h;
      scene()->addRect(x_of(0), y, kWidth, h, Qt::NoPen,
                       QBrush(compute ? QColor(222, 222, 222) : QColor(238, 238, 238)));
      auto* row = new TimelineRow(&timeline_, y, h, px_per_s_, compute, &painted_rects_);
      scene()->addItem(row);
      row_of[g][static_cast<std::size_t>(li)] = static_cast<int>(rows_.size());
      rows_.push_back(row);
      if (lane_labels) text(qs(lane_name(lane)), 70, y + h / 2 - 7, 7.5);
      row->lane_label = qs(lane_name(lane));
      if (first_row)
        row->group_label = groups[g].gpu >= 0 ? tr("GPU %1 · stage %2").arg(groups[g].gpu).arg(st)
                                              : tr("stage %1").arg(st);
      first_row = false;
      y += h + 1;
    }
    const QString name = groups[g].gpu >= 0 ? tr("GPU %1\nstage %2").arg(groups[g].gpu).arg(st)
                                            : tr("stage %1").arg(st);
    text(name, 6, group_top + (lane_labels ? 0 : std::max(0.0, (y - group_top) / 2 - 14)), 7.5);
    y += kStageGap;
  }

  // Tasks into their rows, by start time (records come in task-id order).
  std::vector<std::size_t> order(timeline_.tasks.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return timeline_.tasks[a].start < timeline_.tasks[b].start;
  });
  where_.assign(timeline_.tasks.size(), {-1, 0});
  for (std::size_t k : order) {
    const int g = task_group_index[k];
    if (g < 0) continue;
    const int row = row_of[static_cast<std::size_t>(g)][static_cast<std::size_t>(timeline_.tasks[k].lane)];
    if (row < 0) continue;
    where_[k] = {row, rows_[static_cast<std::size_t>(row)]->add(k)};
  }

  // Title and legend.
  text(tr("One step, simulated op by op: %1, %2 stages, %3 micro-batches, %4 s")
           .arg(qs(timeline_.schedule))
           .arg(timeline_.stages)
           .arg(timeline_.micro_batches)
           .arg(qs(format_si(timeline_.step_time_s))),
       6, 4, 0, true);
  legend_.clear();
  for (const auto& g : kGroups) {
    auto* sw = scene()->addRect(0, 0, 12, 12, QPen(Qt::black, 0), QBrush(g.color));
    sw->setFlag(QGraphicsItem::ItemIgnoresTransformations);
    legend_.push_back({sw, text(qs(g.name), 0, 0)});
  }

  // Time axis in seconds.
  const double axis_y = y;
  axis_y_ = axis_y;
  scene()->addLine(x_of(0), axis_y, x_of(timeline_.step_time_s), axis_y, axis_pen);
  const double step = nice_step(timeline_.step_time_s, 10);
  for (double tick = 0; tick <= timeline_.step_time_s * 1.0001; tick += step) {
    ticks_.push_back(scene()->addLine(x_of(tick), axis_y, x_of(tick), axis_y + 5, axis_pen));
    ticks_.push_back(text(QString::number(tick, 'g', 4), x_of(tick) - 8, axis_y + 7));
  }
  text(tr("time within one step (s)"), x_of(timeline_.step_time_s / 2) - 60, axis_y + 24, 0, true);
  QStringList lines;
  const auto drawn = static_cast<std::int64_t>(timeline_.gpus.empty() ? groups.size() : timeline_.gpus.size());
  const std::int64_t simulated = std::max<std::int64_t>(timeline_.simulated_gpus, drawn);
  lines << tr("Op-level discrete-event simulation (DES): %1 of %2 simulated GPUs drawn, one row "
              "per stream, one block per op of the op program (hover for its name, micro-batch "
              "and duration); %3 of %4 task records.")
               .arg(drawn)
               .arg(simulated)
               .arg(block_count())
               .arg(timeline_.total_tasks);
  if (drawn < simulated)
    lines << tr("GPUs drawn: each drawn stage's rank-0 GPU (TP, CP and data-parallel rank 0) and "
                "the next GPUs of its stage, at most %1 in all.")
                 .arg(kTimelineGpus);
  else if (timeline_.simulated_gpus > 0 && timeline_.simulated_gpus == timeline_.stages)
    lines << tr("One GPU per pipeline stage is simulated (TP, CP and data-parallel rank 0); the "
                "other GPUs are identical (simulation.ranks \"all\" simulates every GPU).");
  if (!lane_labels) {
    QStringList names;
    for (StreamLane lane : kLanes)
      if (any_used[static_cast<int>(lane)]) names << qs(lane_name(lane));
    lines << tr("Rows of each GPU, top to bottom: its %1 streams.").arg(names.join(", "));
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
  for (auto* item : ticks_) item->setVisible(zoom_ <= 1.0);
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
  for (auto* item : ticks_) item->setVisible(true);
  {
    QPainter painter(&image);
    painter.setRenderHint(QPainter::Antialiasing);
    scene()->render(&painter, QRectF(QPointF(0, 0), src.size()), src);
  }
  for (auto* item : ticks_) item->setVisible(zoom_ <= 1.0);
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
