#pragma once
// `clustercost-gui --report RESULTS --pdf OUT`: the PDF export of `clustercost report --format
// pdf`, drawn by the same MainWindow::export_pdf pages (text summary and charts) as the GUI's
// File ▸ Export. RESULTS is a report JSON or a sweep results file; the GUI re-runs the resolved
// scenario of its cheapest report (the PDF shows one scenario; the HTML report shows them all).

#include <QString>

namespace clustercost {

class MainWindow;

/// Returns the process exit code: 0 written, 2 bad input, 1 anything else (message on stderr).
int export_results_pdf(MainWindow& window, const QString& results, const QString& pdf);

}  // namespace clustercost
