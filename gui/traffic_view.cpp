#include "gui/traffic_view.hpp"

#include <algorithm>
#include <cmath>

#include <QFontMetrics>
#include <QPainter>

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

}  // namespace clustercost
