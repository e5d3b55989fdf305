#include "gui/traffic_view.hpp"

#include <algorithm>
#include <cmath>

#include <QFontMetrics>
#include <QHeaderView>
#include <QPainter>
#include <QStyledItemDelegate>
#include <QVBoxLayout>

#include "gui/analysis.hpp"

namespace clustercost {

namespace {

/// White (nothing) to dark blue (the largest pair) — a sequential scale readable in print.
QColor shade(double f) {
  f = std::clamp(f, 0.0, 1.0);
  const int r = static_cast<int>(std::lround(255 - f * (255 - 8)));
  const int g = static_cast<int>(std::lround(255 - f * (255 - 48)));
  const int b = static_cast<int>(std::lround(255 - f * (255 - 107)));
  return QColor(r, g, b);
}

}  // namespace

TrafficHeatmap::TrafficHeatmap(QWidget* parent) : QWidget(parent) {
  setMinimumSize(420, 360);
  setAutoFillBackground(true);
}

void TrafficHeatmap::clear(const QString& message) {
  ranks_ = 0;
  bytes_.clear();
  max_ = 0;
  caption_ = message;
  update();
}

void TrafficHeatmap::show_traffic(const MoeSummary& moe) {
  const auto n = static_cast<int>(std::lround(std::sqrt(static_cast<double>(moe.traffic_bytes.size()))));
  if (moe.method.empty() || n <= 0 || static_cast<std::size_t>(n) * n != moe.traffic_bytes.size()) {
    clear(moe.method.empty() ? tr("dense model or ep = 1: no expert traffic")
                             : tr("the %1 model of this step keeps no traffic matrix; run at "
                                  "DES fidelity to see one")
                                   .arg(QString::fromStdString(moe.method)));
    return;
  }
  ranks_ = n;
  bytes_ = moe.traffic_bytes;
  max_ = *std::max_element(bytes_.begin(), bytes_.end());
  const double imbalance = moe.mean_rank_tokens > 0 ? moe.max_rank_tokens / moe.mean_rank_tokens : 1.0;
  caption_ = tr("MoE dispatch traffic, EP %1 (%2 all-to-all, %3): one micro-batch of MoE layer %4; "
                "rows send, columns receive\n"
                "busiest rank %5× the mean tokens · %6 kB per token over the scale-out · dispatch "
                "%7 ms, combine %8 ms per layer · hottest link %9")
                 .arg(n)
                 .arg(QString::fromStdString(moe.all_to_all), QString::fromStdString(moe.method))
                 .arg(moe.layers.empty() ? 0 : moe.layers.front().layer)
                 .arg(imbalance, 0, 'f', 2)
                 .arg(moe.cross_node_bytes_per_token / 1e3, 0, 'f', 1)
                 .arg(moe.dispatch.value * 1e3, 0, 'f', 2)
                 .arg(moe.combine.value * 1e3, 0, 'f', 2)
                 .arg(moe.hottest_link.empty() ? tr("none") : QString::fromStdString(moe.hottest_link));
  update();
}

double TrafficHeatmap::cell_bytes(int src, int dst) const {
  if (src < 0 || dst < 0 || src >= ranks_ || dst >= ranks_) return 0;
  return bytes_[static_cast<std::size_t>(src) * static_cast<std::size_t>(ranks_) +
                static_cast<std::size_t>(dst)];
}

void TrafficHeatmap::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().window());
  const QFontMetrics fm(font());
  const int line = fm.height();
  const QRect caption_rect(10, 6, width() - 20, 3 * line);
  p.setPen(palette().windowText().color());
  p.drawText(caption_rect, Qt::AlignLeft | Qt::AlignTop | Qt::TextWordWrap, caption_);
  if (ranks_ == 0) return;

  // Map area: square, left margin for the row axis, right margin for the colour legend.
  const int left = 10 + 2 * line, top = caption_rect.bottom() + line, legend_w = 90;
  const int side = std::max(50, std::min(width() - left - legend_w - 20, height() - top - 3 * line));
  const double cell = static_cast<double>(side) / ranks_;
  for (int i = 0; i < ranks_; ++i)
    for (int j = 0; j < ranks_; ++j) {
      const double f = max_ > 0 ? cell_bytes(i, j) / max_ : 0.0;
      p.fillRect(QRectF(left + j * cell, top + i * cell, std::ceil(cell), std::ceil(cell)), shade(f));
    }
  p.setPen(palette().windowText().color());
  p.drawRect(QRect(left, top, side, side));
  // Axes: titles and the first and last rank.
  p.drawText(QRect(left, top + side + 2, side, line), Qt::AlignHCenter,
             tr("destination EP rank (0 … %1)").arg(ranks_ - 1));
  p.save();
  p.translate(left - line - 4, top + side);
  p.rotate(-90);
  p.drawText(QRect(0, 0, side, line), Qt::AlignHCenter, tr("source EP rank (0 … %1)").arg(ranks_ - 1));
  p.restore();
  // Legend: the colour scale in MB.
  const int lx = left + side + 20, lh = side;
  for (int y = 0; y < lh; ++y) p.fillRect(QRect(lx, top + y, 16, 1), shade(1.0 - static_cast<double>(y) / lh));
  p.drawRect(QRect(lx, top, 16, lh));
  p.drawText(QPoint(lx + 22, top + line), tr("%1 MB").arg(max_ / 1e6, 0, 'f', 2));
  p.drawText(QPoint(lx + 22, top + lh), tr("0 MB"));
}

// ---- links ---------------------------------------------------------------------------------

namespace {

/// Paints a utilisation cell as a bar (0–100 % of the cell's width) under its text.
class UtilisationDelegate : public QStyledItemDelegate {
 public:
  using QStyledItemDelegate::QStyledItemDelegate;
  void paint(QPainter* painter, const QStyleOptionViewItem& option,
             const QModelIndex& index) const override {
    const double f = std::clamp(index.data(Qt::UserRole).toDouble(), 0.0, 1.0);
    QRectF bar = QRectF(option.rect).adjusted(2, 3, -2, -3);
    bar.setWidth(bar.width() * f);
    painter->fillRect(bar, shade(0.25 + 0.6 * f));
    QStyleOptionViewItem text_option(option);
    if (f > 0.6) text_option.palette.setColor(QPalette::Text, Qt::white);
    QStyledItemDelegate::paint(painter, text_option, index);
  }
};

QString percent(double f) { return QString::number(100.0 * f, 'f', 1) + " %"; }

}  // namespace

LinkTableModel::LinkTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void LinkTableModel::set_links(std::vector<LinkUse> links) {
  beginResetModel();
  links_ = links_by_utilisation(std::move(links));
  endResetModel();
}

int LinkTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(links_.size());
}

int LinkTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : kColumns;
}

QVariant LinkTableModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() < 0 || index.row() >= rowCount()) return {};
  const LinkUse& l = links_[static_cast<std::size_t>(index.row())];
  if (role == Qt::DisplayRole) {
    switch (index.column()) {
      case kLink: return QString::fromStdString(l.name);
      case kBytes: return QString::number(l.bytes.value / 1e9, 'f', 3);
      case kPeak: return percent(l.peak_utilisation);
      case kMean: return percent(l.mean_utilisation);
      default: return {};
    }
  }
  if (role == Qt::UserRole) {
    switch (index.column()) {
      case kLink: return QString::fromStdString(l.name);
      case kBytes: return l.bytes.value;
      case kPeak: return l.peak_utilisation;
      case kMean: return l.mean_utilisation;
      default: return {};
    }
  }
  if (role == Qt::TextAlignmentRole && index.column() != kLink)
    return QVariant::fromValue(Qt::Alignment(Qt::AlignRight | Qt::AlignVCenter));
  if (role == Qt::ToolTipRole)
    return tr("%1\n%2 GB in the step · peak %3 · mean %4 of capacity")
        .arg(QString::fromStdString(l.name))
        .arg(l.bytes.value / 1e9, 0, 'f', 3)
        .arg(percent(l.peak_utilisation), percent(l.mean_utilisation));
  return {};
}

QVariant LinkTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole) return {};
  if (orientation == Qt::Vertical) return section + 1;
  switch (section) {
    case kLink: return tr("link");
    case kBytes: return tr("GB in the step");
    case kPeak: return tr("peak utilisation");
    case kMean: return tr("mean utilisation");
    default: return {};
  }
}

LinkTrafficView::LinkTrafficView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(10, 4, 10, 4);
  caption_ = new QLabel(this);
  caption_->setWordWrap(true);
  caption_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  model_ = new LinkTableModel(this);
  table_ = new QTableView(this);
  table_->setModel(model_);
  table_->setItemDelegateForColumn(LinkTableModel::kPeak, new UtilisationDelegate(table_));
  table_->setItemDelegateForColumn(LinkTableModel::kMean, new UtilisationDelegate(table_));
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->setAlternatingRowColors(true);
  table_->verticalHeader()->setDefaultSectionSize(table_->fontMetrics().height() + 6);
  table_->horizontalHeader()->setSectionResizeMode(LinkTableModel::kLink, QHeaderView::Stretch);
  for (int c = LinkTableModel::kBytes; c < LinkTableModel::kColumns; ++c)
    table_->horizontalHeader()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
  layout->addWidget(caption_);
  layout->addWidget(table_, 1);
  clear(tr("No result yet."));
}

void LinkTrafficView::clear(const QString& message) {
  model_->set_links({});
  caption_->setText(message);
  table_->setVisible(false);
}

void LinkTrafficView::show_links(const StepResult& step) {
  if (step.fidelity != "des") {
    clear(tr("Per-link traffic needs the discrete-event simulation: this result uses the %1 "
             "step model, which simulates no link. Set simulation.fidelity to \"des\" and run "
             "to see every link's bytes and utilisation.")
              .arg(QString::fromStdString(step.fidelity)));
    return;
  }
  if (step.link_use.empty()) {
    clear(tr("The discrete-event simulation of this step sent nothing over the network (one "
             "GPU, or no collective crossed a link)."));
    return;
  }
  model_->set_links(step.link_use);
  const LinkUse& hot = model_->links().front();
  // The report lists links by bytes (step.simulation.links); name the busiest by bytes too
  // when it is another link.
  const LinkUse* most = &step.link_use.front();
  for (const LinkUse& l : step.link_use)
    if (l.bytes.value > most->bytes.value) most = &l;
  QString text =
      tr("Links of the simulated step (DES, %1 GPUs simulated): %2 links carried traffic, "
         "sorted by peak utilisation. Hottest link: %3, peak %4, mean %5, %6 GB.")
          .arg(step.simulated_gpus)
          .arg(step.link_use.size())
          .arg(QString::fromStdString(hot.name), percent(hot.peak_utilisation),
               percent(hot.mean_utilisation))
          .arg(hot.bytes.value / 1e9, 0, 'f', 2);
  if (most->name != hot.name)
    text += tr(" Most bytes: %1, %2 GB (peak %3).")
                .arg(QString::fromStdString(most->name))
                .arg(most->bytes.value / 1e9, 0, 'f', 2)
                .arg(percent(most->peak_utilisation));
  text += tr(" Mean utilisation is over the whole step; peak is the largest share of the link's "
             "capacity the flows held at any time.");
  caption_->setText(text);
  table_->setVisible(true);
}

}  // namespace clustercost
