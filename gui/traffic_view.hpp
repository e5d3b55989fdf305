#pragma once
/// The MoE traffic tab: the dispatch bytes of one sampled MoE layer and micro-batch as an
/// EP rank × EP rank heatmap (rows send, columns receive), from StepResult::moe, with the
/// summary the report's `moe` section gives. Painted directly (Qt Charts has no heatmap series).

#include <vector>

#include <QString>
#include <QWidget>

#include "sim/step/step_result.hpp"

namespace clustercost {

class TrafficHeatmap : public QWidget {
  Q_OBJECT
 public:
  explicit TrafficHeatmap(QWidget* parent = nullptr);
  /// Shows the matrix of `moe` (empty method: `message` instead).
  void show_traffic(const MoeSummary& moe);
  void clear(const QString& message);

  int ranks() const { return ranks_; }
  /// Bytes rank `src` sends to rank `dst` in the shown layer (0 when nothing is shown).
  double cell_bytes(int src, int dst) const;
  double max_bytes() const { return max_; }
  /// Title and summary lines above the map, or the message when nothing is shown.
  QString caption() const { return caption_; }

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  int ranks_ = 0;
  std::vector<double> bytes_;
  double max_ = 0;
  QString caption_;
};

}  // namespace clustercost
