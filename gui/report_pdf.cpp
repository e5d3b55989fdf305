#include "gui/report_pdf.hpp"

#include <exception>
#include <fstream>

#include <QApplication>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QPageLayout>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QRegularExpression>
#include <QSaveFile>
#include <QSvgRenderer>
#include <QTemporaryDir>
#include <QTextDocument>
#include <QTextStream>
#include <QUrl>

#include "gui/chart_adapter.hpp"
#include "gui/main_window.hpp"
#include "sim/report/batch_report.hpp"
#include "sim/report/report.hpp"

namespace clustercost {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

void fail(const QString& message) { QTextStream(stderr) << "clustercost-gui: " << message << "\n"; }

// The text width of an A4 page with 15 mm margins, in the document's CSS pixels (96 per inch):
// wider images are scaled down to it.
double text_width_px(bool landscape) { return ((landscape ? 297.0 : 210.0) - 30.0) / 25.4 * 96.0; }
double text_height_px(bool landscape) { return ((landscape ? 210.0 : 297.0) - 30.0) / 25.4 * 96.0; }

// The report's resolved scenario written back as input: nulls (unset optionals) and empty
// strings (defaults such as "node": "") mean "use the default", which the loader expresses by
// absence.
void strip_defaults(Json& j) {
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end();) {
    if (it->is_null() || (it->is_string() && it->get<std::string>().empty())) {
      it = j.erase(it);
    } else {
      strip_defaults(*it);
      ++it;
    }
  }
}

// "cluster.gpu=H200-SXM cluster.gpus=512": a sweep point's own settings.
std::string overrides_text(const Json& overrides) {
  std::string s;
  if (!overrides.is_object()) return s;
  for (auto it = overrides.begin(); it != overrides.end(); ++it)
    s += (s.empty() ? "" : " ") + it.key() + "=" +
         (it.value().is_string() ? it.value().get<std::string>() : it.value().dump());
  return s;
}

// Waits for posted layout events (charts lay out on them) before they are drawn.
void settle(int ms) {
  QElapsedTimer timer;
  timer.start();
  while (timer.elapsed() < ms) QApplication::processEvents(QEventLoop::AllEvents, 20);
}

// A sweep's report: the sweep HTML, then a page per point (report_page_html of its JSON, with
// its GPU's catalogue entry for the assumptions' sources), each headed with its own cluster.
QString sweep_document(const std::vector<BatchEntry>& entries, const std::string& title,
                       const Catalog& catalog) {
  std::string html = batch_to_html(entries, title);
  std::string pages = "<h1 style=\"page-break-before: always\">Point by point</h1>\n<p>One page "
                      "per point of the comparison above, in the same order as the results file.</p>\n";
  for (const auto& e : entries) {
    if (!e.report.is_object()) continue;
    const Json& sc = e.report.contains("scenario") ? e.report["scenario"] : Json::object();
    const std::string gpu = sc.contains("cluster") ? sc["cluster"].value("gpu", "") : "";
    const long long gpus = sc.contains("cluster") ? sc["cluster"].value("gpus", 0LL) : 0;
    ReportPageExtras extras;
    extras.gpu = catalog.find_gpu(gpu);
    const std::string what = overrides_text(e.overrides);
    extras.heading = "Point " + e.id + ": " + std::to_string(gpus) + " × " + gpu;
    pages += "<div style=\"page-break-before: always\"></div>\n";
    if (!what.empty())
      pages += "<p><b>What-if:</b> " + html_escape(what) + "</p>\n";
    pages += report_page_html(e.report, extras);
  }
  // The per-point pages use the single report's classes (summary cards, sources).
  // On paper the comparison's thirteen columns need a smaller font to stay one line per point.
  const auto style_end = html.find("</style>");
  if (style_end != std::string::npos)
    html.insert(style_end, report_html_style() + "table{font-size:10px}");
  const auto body_end = html.rfind("</body>");
  html.insert(body_end == std::string::npos ? html.size() : body_end, pages);
  return qs(html);
}

}  // namespace

QImage chart_image(ChartAdapter& chart, const QSize& size) {
  QImage image(size * 2, QImage::Format_ARGB32);
  image.setDevicePixelRatio(2.0);
  image.fill(Qt::white);
  QPainter painter(&image);
  painter.setRenderHint(QPainter::Antialiasing);
  chart.render_to(painter, QRectF(QPointF(0, 0), QSizeF(size)));
  return image;
}

bool write_html_pdf(const QString& path, const QString& title, const QString& html_in,
                    const std::vector<PdfImage>& images, QString* error, bool landscape) {
  const double kTextWidthPx = text_width_px(landscape);
  const double kTextHeightPx = text_height_px(landscape);
  QTextDocument doc;
  QString html = html_in;
  // Raw data behind a <details> toggle is for the screen; on paper it would be pages of JSON.
  static const QRegularExpression details("<details>.*?</details>",
                                          QRegularExpression::DotMatchesEverythingOption);
  html.remove(details);
  // Inline SVG charts become images: QTextDocument lays out HTML but does not draw SVG.
  static const QRegularExpression svg("<svg\\b.*?</svg>",
                                      QRegularExpression::DotMatchesEverythingOption);
  QString out;
  qsizetype from = 0;
  int n = 0;
  for (auto it = svg.globalMatch(html); it.hasNext();) {
    const auto m = it.next();
    out += html.mid(from, m.capturedStart() - from);
    from = m.capturedEnd();
    QSvgRenderer renderer(m.captured().toUtf8());
    const QSize size = renderer.defaultSize();
    if (!renderer.isValid() || size.isEmpty()) continue;
    QImage image(size * 3, QImage::Format_ARGB32);
    image.fill(Qt::white);
    {
      QPainter painter(&image);
      painter.setRenderHint(QPainter::Antialiasing);
      renderer.render(&painter);
    }
    const QString name = QString("svg-%1").arg(n++);
    doc.addResource(QTextDocument::ImageResource, QUrl(name), image);
    // Wide charts fill the text width; tall ones keep within a page.
    const double scale = std::min({1.0, kTextWidthPx / size.width(),
                                   0.9 * kTextHeightPx / size.height()});
    out += QString("<img src=\"%1\" width=\"%2\" height=\"%3\">")
               .arg(name)
               .arg(static_cast<int>(size.width() * scale))
               .arg(static_cast<int>(size.height() * scale));
  }
  out += html.mid(from);
  for (const auto& img : images) {
    doc.addResource(QTextDocument::ImageResource, QUrl(img.name), img.image);
    // Wide images fill the text width.
    const QSizeF logical = img.image.deviceIndependentSize();
    const double scale = std::min(1.0, kTextWidthPx / logical.width());
    out.replace(QString("<img src=\"%1\">").arg(img.name),
                QString("<img src=\"%1\" width=\"%2\" height=\"%3\">")
                    .arg(img.name)
                    .arg(static_cast<int>(logical.width() * scale))
                    .arg(static_cast<int>(logical.height() * scale)));
  }
  // CSS pixel font sizes as points (1 px = 0.75 pt at 96 px per inch): QTextDocument takes px
  // as device pixels, which on a 300-dpi page would make the text tiny.
  static const QRegularExpression px_font("font-size:\\s*([0-9.]+)px");
  QString printed;
  from = 0;
  for (auto it = px_font.globalMatch(out); it.hasNext();) {
    const auto m = it.next();
    printed += out.mid(from, m.capturedStart() - from) +
               QString("font-size:%1pt").arg(m.captured(1).toDouble() * 0.75);
    from = m.capturedEnd();
  }
  printed += out.mid(from);
  QFont font("DejaVu Sans");
  font.setPointSizeF(9);
  doc.setDefaultFont(font);
  doc.setDocumentMargin(0);
  // Laid out on a page of the text area's size in CSS pixels, so that the image widths above
  // fit it; print() scales the page onto the PDF's.
  doc.setPageSize(QSizeF(kTextWidthPx, kTextHeightPx));
  doc.setHtml(printed);

  // Atomic like every file the tool writes: QSaveFile writes a temporary file beside `path`
  // and renames it over `path` on commit().
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly)) {
    if (error) *error = QObject::tr("%1: cannot write the PDF: %2").arg(path, file.errorString());
    return false;
  }
  QPdfWriter writer(&file);
  writer.setResolution(300);
  writer.setPageSize(QPageSize(QPageSize::A4));
  writer.setPageOrientation(landscape ? QPageLayout::Landscape : QPageLayout::Portrait);
  writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout::Millimeter);
  writer.setTitle(title);
  writer.setCreator("clustercost-gui");
  doc.print(&writer);
  if (!file.commit()) {
    if (error) *error = QObject::tr("%1: cannot write the PDF: %2").arg(path, file.errorString());
    return false;
  }
  return true;
}

int export_results_pdf(MainWindow& window, const QString& results, const QString& pdf) {
  std::vector<BatchEntry> entries;
  try {
    entries = load_batch(results.toStdString());
  } catch (const std::exception& e) {
    fail(qs(e.what()));
    return 2;
  }
  std::size_t reports = 0;
  const BatchEntry* single = nullptr;
  for (const auto& e : entries)
    if (e.report.is_object() && e.report.contains("scenario")) {
      ++reports;
      single = &e;
    }
  if (reports == 0) {
    fail(results + ": no successful report to export");
    return 2;
  }
  QString error;
  if (entries.size() == 1 && single->id.empty()) {
    // One report: run its resolved scenario again for what only a run gives (MoE traffic
    // matrix, DES timeline, scaling sweep), then export as the GUI does.
    QTemporaryDir tmp;
    if (!tmp.isValid()) {
      fail("cannot create a temporary folder");
      return 1;
    }
    Json scenario = single->report["scenario"];
    strip_defaults(scenario);
    const QString file = tmp.filePath("scenario.json");
    std::ofstream(file.toStdString()) << scenario.dump(2);
    if (!window.open_scenario(file) || !window.run_blocking()) {
      fail(window.last_error());
      return 2;
    }
    window.show();
    settle(300);
    if (!window.export_pdf(pdf, &error)) {
      fail(error);
      return 1;
    }
    return 0;
  }
  const std::string title = batch_title(entries, QFileInfo(results).completeBaseName().toStdString());
  if (!write_html_pdf(pdf, QObject::tr("clustercost sweep: %1").arg(qs(title)),
                      sweep_document(entries, title, window.document().catalog()), {}, &error,
                      /*landscape=*/true)) {
    fail(error);
    return 1;
  }
  return 0;
}

}  // namespace clustercost
