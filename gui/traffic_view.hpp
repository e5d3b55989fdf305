#pragma once
/// The traffic tab: the dispatch bytes of one sampled MoE layer and micro-batch as an EP rank ×
/// EP rank heatmap (rows send, columns receive), from StepResult::moe, with the summary the
/// report's `moe` section gives (painted directly: Qt Charts has no heatmap series); and every
/// link the discrete-event simulation's flows crossed (StepResult::link_use, the report's
/// step.simulation.links), hottest first.

#include <vector>

#include <QAbstractTableModel>
#include <QLabel>
#include <QString>
#include <QTableView>
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

/// The DES's links as a table: link, bytes (GB), peak and mean utilisation (%), sorted by
/// links_by_utilisation (gui/analysis.hpp): row 0 is the hottest link. Display role: the
/// formatted text; Qt::UserRole: the number (bytes, or utilisation as a fraction).
class LinkTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { kLink = 0, kBytes, kPeak, kMean, kColumns };
  explicit LinkTableModel(QObject* parent = nullptr);
  void set_links(std::vector<LinkUse> links);
  const std::vector<LinkUse>& links() const { return links_; }

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  int columnCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
  QVariant headerData(int section, Qt::Orientation orientation,
                      int role = Qt::DisplayRole) const override;

 private:
  std::vector<LinkUse> links_;
};

/// The link part of the traffic tab: a caption naming the hottest link (and the one carrying
/// the most bytes), and the table of every link with utilisation bars. An analytical result
/// has no simulated links: the caption says that the view needs the DES.
class LinkTrafficView : public QWidget {
  Q_OBJECT
 public:
  explicit LinkTrafficView(QWidget* parent = nullptr);
  /// Shows `step.link_use` (DES); for another fidelity, or a DES step without links, a message.
  void show_links(const StepResult& step);
  void clear(const QString& message);
  QString caption() const { return caption_->text(); }
  LinkTableModel* model() const { return model_; }
  QTableView* table() const { return table_; }

 private:
  QLabel* caption_ = nullptr;
  LinkTableModel* model_ = nullptr;
  QTableView* table_ = nullptr;
};

}  // namespace clustercost
