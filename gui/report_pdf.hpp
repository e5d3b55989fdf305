#pragma once
// PDF reports. One writer for every PDF: the report's HTML (sim/report, the same pages as the
// HTML export) laid out by QTextDocument on A4 pages, its inline SVG charts drawn by QSvgRenderer,
// plus images of the GUI's own charts where the caller adds them. So a PDF has what the HTML has.
//
// `clustercost-gui --report RESULTS --pdf OUT` (what `clustercost report --format pdf` runs):
// a single report JSON is re-run in the window and exported as File ▸ Export does (with the
// scaling sweep, the simulated step and the MoE heatmap); a sweep's results give the sweep's
// HTML report (comparison table with one row per point, charts, failed points, provenance)
// followed by one page per point headed with that point's own cluster.

#include <vector>

#include <QImage>
#include <QString>

namespace clustercost {

class ChartAdapter;
class MainWindow;

/// An image an HTML page refers to as <img src="NAME">.
struct PdfImage {
  QString name;
  QImage image;
};

/// Writes `html` to `path` as an A4 PDF (landscape for wide tables), atomically (a failure
/// leaves an old file as it was). Inline <svg> elements become images, <details> (raw data for
/// the screen) are left out.
bool write_html_pdf(const QString& path, const QString& title, const QString& html,
                    const std::vector<PdfImage>& images, QString* error, bool landscape = false);

/// `chart` drawn at `size` (twice the pixels, for print).
QImage chart_image(ChartAdapter& chart, const QSize& size);

/// Returns the process exit code: 0 written, 2 bad input, 1 anything else (message on stderr).
int export_results_pdf(MainWindow& window, const QString& results, const QString& pdf);

}  // namespace clustercost
