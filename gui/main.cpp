// clustercost-gui: the desktop what-if window, also scriptable for screenshots:
//   clustercost-gui --scenario FILE --run --screenshot out.png [--tab NAME]
//   clustercost-gui --scenario FILE --run --screenshot 'shots/{tab}.png' [--tab NAME]...
//                   (one PNG per named tab, every tab when none is named, from one run)
//                   [--pin-variant "PATH=VALUE[;PATH=VALUE...]"]... [--export FILE]...
//   clustercost-gui --report RESULTS --pdf OUT.pdf   (what `clustercost report --format pdf` runs)
// Exit codes as the CLI's: 0 success, 2 bad input (the loader's message on stderr), 1 other.

#include <cstdio>
#include <exception>
#include <memory>

#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QPixmap>
#include <QSaveFile>
#include <QTextStream>

#include "gui/main_window.hpp"
#include "gui/report_pdf.hpp"

namespace {

void print_error(const QString& message) {
  QTextStream(stderr) << "clustercost-gui: " << message << "\n";
}

// Lets layouts and charts settle before a grab (charts lay out on posted events).
void settle(int ms) {
  QElapsedTimer timer;
  timer.start();
  while (timer.elapsed() < ms) QApplication::processEvents(QEventLoop::AllEvents, 20);
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("clustercost-gui");
  QApplication::setApplicationVersion(QString::fromStdString(clustercost::clustercost_version()));

  QCommandLineParser parser;
  parser.setApplicationDescription("clustercost what-if GUI");
  parser.addHelpOption();
  parser.addVersionOption();
  QCommandLineOption scenario_opt("scenario", "Scenario JSON file to open.", "FILE");
  QCommandLineOption run_opt("run", "Run the scenario at start (synchronously when scripted).");
  QCommandLineOption shot_opt("screenshot",
                              "Grab the window to a PNG file and exit. A name with {tab} is "
                              "a pattern: one file per --tab (every tab when none is given).",
                              "PNG");
  QCommandLineOption tab_opt("tab",
                             "Tab to show: summary, breakdown, memory, scaling, timeline, "
                             "traffic, compare (repeatable with a {tab} screenshot pattern).",
                             "NAME");
  QCommandLineOption pin_opt("pin-variant",
                             "After the run, pin it and a variant with these overrides "
                             "(PATH=VALUE separated by ';'); repeatable.",
                             "SETS");
  QCommandLineOption export_opt("export",
                                "After the run, write the report (.pdf, .html, .csv) or the "
                                "scenario (.json) to FILE; repeatable.",
                                "FILE");
  QCommandLineOption size_opt("size",
                              "Window size for screenshots, WxH (default: sized to the screen).",
                              "WxH");
  QCommandLineOption window_opt("timeline-window",
                                "Zoom the timeline tab to seconds START to END of the step "
                                "(blocks wide enough show their op's name).",
                                "START:END");
  QCommandLineOption report_opt("report",
                                "Report JSON or sweep results (JSON Lines) to export with --pdf.",
                                "RESULTS");
  QCommandLineOption pdf_opt("pdf", "With --report: write the PDF report to FILE and exit.", "FILE");
  parser.addOptions({scenario_opt, run_opt, shot_opt, tab_opt, pin_opt, export_opt, size_opt,
                     window_opt, report_opt, pdf_opt});
  parser.process(app);

  std::unique_ptr<clustercost::MainWindow> window;
  try {
    window = std::make_unique<clustercost::MainWindow>(clustercost::default_data_dirs());
  } catch (const std::exception& e) {
    print_error(QString::fromStdString(e.what()));
    return 2;
  }
  if (parser.isSet(report_opt) || parser.isSet(pdf_opt)) {
    if (!parser.isSet(report_opt) || !parser.isSet(pdf_opt)) {
      print_error("--report and --pdf go together");
      return 2;
    }
    return clustercost::export_results_pdf(*window, parser.value(report_opt), parser.value(pdf_opt));
  }
  if (parser.isSet(size_opt)) {
    const QStringList size = parser.value(size_opt).split('x');
    if (size.size() != 2 || size[0].toInt() <= 0 || size[1].toInt() <= 0) {
      print_error(QString("--size %1: expected WxH, e.g. 1366x768").arg(parser.value(size_opt)));
      return 2;
    }
    window->resize(size[0].toInt(), size[1].toInt());
  }

  if (parser.isSet(scenario_opt) && !window->open_scenario(parser.value(scenario_opt))) {
    print_error(window->last_error());
    if (parser.isSet(shot_opt) || parser.isSet(run_opt)) return 2;
  }
  if (parser.isSet(run_opt)) {
    if (!window->run_blocking()) {
      print_error(window->last_error());
      return 2;
    }
    const QStringList variants = parser.values(pin_opt);
    if (!variants.isEmpty()) {
      window->pin_current(QObject::tr("as loaded"));
      for (const QString& v : variants) {
        QString error;
        if (!window->pin_variant(v.split(';', Qt::SkipEmptyParts), QString(), &error)) {
          print_error(error);
          return 2;
        }
      }
    }
  }
  const bool pattern = parser.value(shot_opt).contains("{tab}");
  QStringList tabs = parser.values(tab_opt);
  if (pattern && tabs.isEmpty()) tabs = window->tab_names();
  for (const QString& tab : tabs) {
    if (!window->tab_names().contains(tab)) {
      print_error(QString("unknown tab \"%1\"; known: %2").arg(tab, window->tab_names().join(", ")));
      return 2;
    }
  }
  if (!tabs.isEmpty()) window->show_tab(tabs.back());
  window->show();
  for (const QString& file : parser.values(export_opt)) {
    settle(200);  // chart pages are rendered from laid-out charts
    QString error;
    const QString ext = file.section('.', -1).toLower();
    const bool ok = ext == "pdf"    ? window->export_pdf(file, &error)
                    : ext == "html" ? window->export_html(file, &error)
                    : ext == "csv"  ? window->export_csv(file, &error)
                    : ext == "json" ? window->save_scenario(file, &error)
                                    : (error = file + ": unknown extension (pdf, html, csv, json)",
                                       false);
    if (!ok) {
      print_error(error);
      return 2;
    }
  }
  if (!parser.values(export_opt).isEmpty() && !parser.isSet(shot_opt)) return 0;
  if (parser.isSet(window_opt)) {
    settle(100);  // the view's size sets the zoom that fits the step
    const QStringList w = parser.value(window_opt).split(':');
    bool ok0 = false, ok1 = false;
    const double t0 = w.size() == 2 ? w[0].toDouble(&ok0) : 0, t1 = w.size() == 2 ? w[1].toDouble(&ok1) : 0;
    if (!ok0 || !ok1 || !window->timeline()->show_window(t0, t1)) {
      print_error(QString("--timeline-window %1: expected START:END seconds within the simulated "
                          "step (run the scenario first)")
                      .arg(parser.value(window_opt)));
      return 2;
    }
  }
  if (parser.isSet(shot_opt)) {
    const QStringList shots = pattern ? tabs : QStringList{QString()};
    for (const QString& tab : shots) {
      if (!tab.isEmpty()) window->show_tab(tab);
      settle(400);
      const QPixmap shot = window->grab();
      const QString path = QString(parser.value(shot_opt)).replace("{tab}", tab);
      // Atomic like every file the tool writes: QSaveFile renames its temporary file over the
      // target only on commit(), so a failed or killed run leaves the old screenshot intact.
      QSaveFile file(path);
      if (shot.isNull() || !file.open(QIODevice::WriteOnly) || !shot.save(&file, "PNG") ||
          !file.commit()) {
        print_error(QString("%1: cannot write the screenshot").arg(path));
        return 1;
      }
    }
    return 0;
  }
  return app.exec();
}
