#include "gui/report_pdf.hpp"

#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>

#include <QApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QTextStream>

#include "gui/main_window.hpp"
#include "sim/report/batch_report.hpp"

namespace clustercost {

namespace {

void fail(const QString& message) { QTextStream(stderr) << "clustercost-gui: " << message << "\n"; }

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

}  // namespace

int export_results_pdf(MainWindow& window, const QString& results, const QString& pdf) {
  std::vector<BatchEntry> entries;
  try {
    entries = load_batch(results.toStdString());
  } catch (const std::exception& e) {
    fail(QString::fromStdString(e.what()));
    return 2;
  }
  const BatchEntry* best = nullptr;
  std::size_t reports = 0;
  auto cost = [](const BatchEntry& e) {
    const Json& c = e.report["cost"]["total_usd"];
    return c.is_number() ? c.get<double>() : INFINITY;
  };
  for (const auto& e : entries) {
    if (!e.report.is_object() || !e.report.contains("scenario")) continue;
    ++reports;
    if (!best || cost(e) < cost(*best)) best = &e;
  }
  if (!best) {
    fail(results + ": no successful report to export");
    return 2;
  }
  if (reports > 1)
    fail(QString("%1 reports: the PDF shows the cheapest (%2); the HTML report compares them all")
             .arg(reports)
             .arg(QString::fromStdString(best->id)));
  QTemporaryDir tmp;
  if (!tmp.isValid()) {
    fail("cannot create a temporary folder");
    return 1;
  }
  Json scenario = best->report["scenario"];
  strip_defaults(scenario);
  const QString file = tmp.filePath("scenario.json");
  std::ofstream(file.toStdString()) << scenario.dump(2);
  if (!window.open_scenario(file) || !window.run_blocking()) {
    fail(window.last_error());
    return 2;
  }
  window.show();
  // Charts lay out on posted events: let them settle before drawing them onto pages.
  QElapsedTimer timer;
  timer.start();
  while (timer.elapsed() < 300) QApplication::processEvents(QEventLoop::AllEvents, 20);
  // Atomic like every output of the tool: a temporary file beside the target, then a rename.
  const QString part = pdf + ".part";
  QString error;
  if (!window.export_pdf(part, &error)) {
    QFile::remove(part);
    fail(error);
    return 1;
  }
  std::error_code ec;
  std::filesystem::rename(part.toStdString(), pdf.toStdString(), ec);
  if (ec) {
    QFile::remove(part);
    fail(QString("%1: %2").arg(pdf, QString::fromStdString(ec.message())));
    return 1;
  }
  return 0;
}

}  // namespace clustercost
