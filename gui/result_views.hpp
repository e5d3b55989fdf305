#pragma once
/// The result tabs that are not a single chart: summary cards, the DES Gantt of one step,
/// and the compare table of pinned results.

#include <cstdint>
#include <map>
#include <vector>

#include <QGraphicsRectItem>
#include <QGraphicsView>
#include <QImage>
#include <QLabel>
#include <QString>
#include <QTableWidget>
#include <QWidget>

#include "gui/analysis.hpp"
#include "gui/chart_adapter.hpp"
#include "sim/report/report.hpp"

namespace clustercost {

/// Cards: wall days, GPU-hours, cost, MFU, tokens/s/GPU, memory fit.
class SummaryPanel : public QWidget {
  Q_OBJECT
 public:
  explicit SummaryPanel(QWidget* parent = nullptr);
  void show_report(const Report& r);
  void clear();
  /// Card keys: "wall_days", "gpu_hours", "cost", "mfu", "tokens_per_s_per_gpu", "memory".
  QString card_value(const QString& key) const;
  QString card_detail(const QString& key) const;
  /// Every card's text in one string (PDF page, tests).
  QString text() const;

 private:
  struct Card {
    QLabel* title = nullptr;
    QLabel* value = nullptr;
    QLabel* detail = nullptr;
  };
  std::map<QString, Card> cards_;
  std::vector<QString> order_;
  QLabel* header_ = nullptr;
  QLabel* notes_ = nullptr;
};

class TimelineRow;

/// A Gantt of one step from the op-level discrete-event simulation: for each drawn GPU
/// (PipelineTimeline::gpus) one row per stream it uses (compute, wgrad, comm, comm async, PP
/// sends, DP), one block per task record (an op of the op program) coloured by kind, idle time
/// as the grey row background, a time axis in seconds. The mouse wheel zooms the time axis,
/// dragging pans; hovering a block names its op, micro-batch, stream and duration.
///
/// Each row is one scene item that paints only the tasks in the exposed area and at most about
/// two rectangles per device pixel (tasks narrower than a pixel that fall in a pixel already
/// painted are skipped), so a step of hundreds of thousands of ops draws as fast as a few
/// thousand; zooming in shows them all.
class TimelineView : public QGraphicsView {
  Q_OBJECT
 public:
  explicit TimelineView(QWidget* parent = nullptr);
  ~TimelineView() override;
  /// Draws `t`; `note` (may be empty) is appended to the caption.
  void show_timeline(const PipelineTimeline& t, const QString& note = QString());
  void clear(const QString& message);
  const PipelineTimeline& timeline() const { return timeline_; }
  /// Task records placed in rows (every record of a drawn GPU).
  int block_count() const;
  /// Rows drawn (drawn GPUs × streams each uses).
  int row_count() const { return static_cast<int>(rows_.size()); }
  /// The right edge of the rightmost placed block, in seconds, read back from the rows (0 when
  /// nothing is drawn).
  double right_edge_s() const;
  /// The task under scene point `scene_pos` (what hovering it describes), or -1.
  std::int64_t task_at(const QPointF& scene_pos) const;
  /// Scene point in the middle of task `task`'s block (tests, tooltips).
  QPointF task_center(std::size_t task) const;
  /// The hover text of task `task` (index into timeline().tasks).
  QString describe(std::size_t task) const;
  /// What is drawn and the source of the timings (shown under the view by the window, and
  /// printed in the PDF; the mouse hints are not part of it).
  QString caption() const { return caption_; }
  /// The whole scene at zoom 1, on white, for the PDF.
  QImage render_image();
  /// Rectangles the rows painted since the last call (level of detail: at most about two per
  /// device pixel of each row, however many tasks).
  std::size_t take_painted_rects();
  /// Zooms the time axis so that [t0, t1] seconds of the step fill the view, t0 at its left
  /// edge (blocks wide enough then show their op's name). False when nothing is drawn or the
  /// window is empty or outside the step.
  bool show_window(double t0, double t1);
  /// Horizontal zoom factor applied by the wheel (1 = fit).
  double zoom() const { return zoom_; }
  void zoom_by(double factor);

 protected:
  void wheelEvent(QWheelEvent* event) override;
  void resizeEvent(QResizeEvent* event) override;
  bool viewportEvent(QEvent* event) override;
  void drawForeground(QPainter* painter, const QRectF& rect) override;

 private:
  void fit_width();
  void place_legend();
  std::vector<std::pair<QGraphicsItem*, QGraphicsItem*>> legend_;  // swatch, label
  PipelineTimeline timeline_;
  std::vector<TimelineRow*> rows_;  // owned by the scene
  std::vector<QGraphicsItem*> ticks_;  // the zoom-1 axis ticks and their labels
  double axis_y_ = 0;
  std::vector<std::pair<int, std::size_t>> where_;  // per task: row index, position in the row
  std::size_t painted_rects_ = 0;
  QString caption_;
  double px_per_s_ = 0;
  double zoom_ = 1.0;
  double fit_ = 1.0;  // horizontal scale that fits the whole step in the viewport
};

/// Pinned results side by side: a table of key metrics with deltas against the first pin, and
/// grouped bars of each metric relative to the first pin.
class ComparePanel : public QWidget {
  Q_OBJECT
 public:
  explicit ComparePanel(QWidget* parent = nullptr);
  /// Pins are unlimited, each with its own chart colour. The column header is `label` and the
  /// result's layout_label; a result that does not fit in HBM is marked infeasible.
  void add_pin(const QString& label, const Report& r);
  /// The column header of pin `pin` ("#2 · 2048×H800-SXM tp1 pp8 ep32").
  QString header(int pin) const;
  /// Whether pin `pin`'s memory fits in HBM.
  bool feasible(int pin) const;
  /// The table as HTML (PDF export).
  QString to_html() const;
  void clear_pins();
  int pin_count() const { return static_cast<int>(pins_.size()); }
  /// Delta of metric `row` (key_metrics order) for pin `pin` against pin 0, in percent.
  double delta(int row, int pin) const;
  QTableWidget* table() const { return table_; }
  ChartAdapter* chart() const { return chart_; }

 private:
  void rebuild();
  struct Pin {
    QString label;
    QString layout;
    std::vector<Metric> metrics;
    bool fits = true;
    double memory_gib = 0, capacity_gib = 0;
  };
  /// Rows before the metrics: layout, memory against capacity.
  static constexpr int kTextRows = 2;
  std::vector<Pin> pins_;
  QTableWidget* table_ = nullptr;
  ChartAdapter* chart_ = nullptr;
};

}  // namespace clustercost
