#pragma once
/// The what-if window: scenario panel on the left, result tabs on the right (summary,
/// breakdown, memory, scaling, timeline, traffic, compare), File menu for open/save/export.
///
/// Runs happen on a worker thread in two phases. The first simulates the scenario itself (one
/// DES run gives the report and the timeline) and shows every tab but scaling as soon as it is
/// done (run_finished); the second, on the same thread, runs the scaling sweep at the
/// analytical fidelity (kScalingFidelity) and fills the scaling tab, which says "computing…"
/// meanwhile (scaling_finished). Cancel during the first phase discards its result when it
/// arrives; during the second it stops the sweep between two points; a new Run cancels a
/// running sweep. run_blocking() does both phases on the calling thread (scripting and tests).

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include <QLabel>
#include <QMainWindow>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QString>
#include <QTabWidget>

#include "gui/analysis.hpp"
#include "gui/chart_adapter.hpp"
#include "gui/result_views.hpp"
#include "gui/scenario_document.hpp"
#include "gui/scenario_panel.hpp"
#include "gui/traffic_view.hpp"

class QThread;

namespace clustercost {

/// What the first phase of a run produces for the tabs (all but scaling).
struct RunOutput {
  std::optional<Report> report;
  /// The timeline tab always shows the discrete-event simulation, whatever fidelity the report
  /// used.
  PipelineTimeline timeline;
  Json doc;           // the scenario document the run was made from
  std::string error;  // InputError::what() or another exception's message
};

/// The first phase of a run: the report and the timeline. At DES fidelity one simulation with
/// task records gives both. Reads only its arguments (safe on a worker thread).
RunOutput compute_run(const Json& doc, const Scenario& scenario,
                      const std::atomic<bool>* cancel = nullptr);

/// The second phase: the scaling tab's sweep (scaling_sweep at kScalingFidelity over
/// default_scaling_factors()). Reads only its arguments; stops early when `cancel` is set.
std::vector<ScalingLine> compute_scaling(const Catalog& catalog, const DataDirs& dirs,
                                         const std::string& file, const Json& doc,
                                         const Scenario& scenario,
                                         const std::atomic<bool>* cancel = nullptr);

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  /// Throws InputError when the catalogue under `dirs` cannot be loaded.
  explicit MainWindow(DataDirs dirs, QWidget* parent = nullptr);
  ~MainWindow() override;

  /// Sizes the window for a screen whose available area is `available` (at most 1600×1000,
  /// leaving room for the window frame) and centres it there. The constructor does this for
  /// the screen the window opens on.
  void fit_to_screen(const QRect& available);

  /// Loads a scenario file into the panel. False when the file is unreadable or the scenario
  /// is invalid; last_error() then holds the loader's message.
  bool open_scenario(const QString& path);
  /// File ▸ New: the default scenario (default_scenario_document()).
  void new_scenario();

  /// Asked before edits would be lost (New, Open, Quit): Save, Discard or Cancel. The default
  /// shows a QMessageBox; tests replace it.
  using DiscardPrompt = std::function<QMessageBox::StandardButton(const QString& question)>;
  void set_discard_prompt(DiscardPrompt prompt) { discard_prompt_ = std::move(prompt); }
  /// True when the document has no unsaved edits, or the user chose to save (and it saved) or
  /// to discard them.
  bool maybe_discard(const QString& action);
  /// Chooses the file for Save As; tests replace the dialog.
  using SavePathPrompt = std::function<QString()>;
  void set_save_path_prompt(SavePathPrompt prompt) { save_path_prompt_ = std::move(prompt); }
  const QString& last_error() const { return last_error_; }

  /// Runs the current scenario on this thread and shows the result. False when invalid or the
  /// run fails (last_error()).
  bool run_blocking();
  /// Starts a run on a worker thread (the Run button).
  void start_run();
  /// Stops waiting for the running job, or stops its scaling sweep (the Cancel button).
  void cancel_run();
  /// The first phase (the scenario's own simulation) is under way.
  bool running() const { return running_generation_ != 0; }
  /// The shown result's scaling sweep is under way (its tab says "computing…").
  bool scaling_pending() const { return scaling_generation_ != 0; }
  /// The scaling tab's note: what the points are, or that they are being computed.
  QLabel* scaling_note() const { return scaling_note_; }

  /// The shown result, nullptr before the first run.
  const Report* result() const { return result_ ? &*result_ : nullptr; }
  /// True when a result is shown and the document is still the one it was run from.
  bool result_is_current() const;
  /// The line above the tabs saying what the shown result is for when it is not current
  /// ("Result is for …; Run to update"); hidden otherwise.
  QLabel* stale_banner() const { return stale_; }
  /// Pins the shown result in the compare tab. False when there is no current result (none, or
  /// the form has changed since) or the same scenario is pinned already.
  bool pin_current(const QString& label = QString());
  /// Runs the current document with extra `PATH=VALUE` overrides and pins the result (the
  /// document itself is unchanged).
  bool pin_variant(const QStringList& overrides, const QString& label, QString* error);

  /// Tab names: summary, breakdown, memory, scaling, timeline, traffic, compare.
  QStringList tab_names() const;
  bool show_tab(const QString& name);

  /// Writes the document to `path` (".json" added when it has no extension); the document then
  /// lives there (title, Save). The path written is returned in `written` when given.
  bool save_scenario(const QString& path, QString* error, QString* written = nullptr);
  /// File ▸ Save: to the document's file, or Save As for a new document. False when cancelled
  /// or failed.
  bool save();
  bool save_as();
  bool export_pdf(const QString& path, QString* error);
  bool export_html(const QString& path, QString* error);
  bool export_csv(const QString& path, QString* error);

  ScenarioDocument& document() { return document_; }
  ScenarioPanel* panel() const { return panel_; }
  QPushButton* run_button() const { return run_button_; }
  QPushButton* cancel_button() const { return cancel_button_; }
  QPushButton* pin_button() const { return pin_button_; }
  QProgressBar* progress() const { return progress_; }
  QLabel* status_label() const { return status_; }
  QAction* run_action() const { return run_action_; }
  SummaryPanel* summary() const { return summary_; }
  ChartAdapter* breakdown_chart() const { return breakdown_; }
  ChartAdapter* memory_chart() const { return memory_; }
  ChartAdapter* scaling_days_chart() const { return scaling_days_; }
  ChartAdapter* scaling_cost_chart() const { return scaling_cost_; }
  TimelineView* timeline() const { return timeline_; }
  QLabel* timeline_caption() const { return timeline_caption_; }
  TrafficHeatmap* traffic() const { return traffic_; }
  LinkTrafficView* links() const { return links_; }
  /// The critical path of the DES by op category (breakdown tab), and each simulated GPU's
  /// peak memory (memory tab); both show a message for an analytical result.
  ChartAdapter* critical_path_chart() const { return critical_path_; }
  /// Every category of the critical path with its seconds and share of the step.
  QLabel* critical_path_note() const { return critical_path_note_; }
  ChartAdapter* gpu_memory_chart() const { return gpu_memory_; }
  ComparePanel* compare() const { return compare_; }

 signals:
  /// A result (or an error) has been shown, or a run was cancelled. The scaling sweep may
  /// still be running (scaling_pending()).
  void run_finished(bool ok);
  /// The scaling tab has been filled (true) or its sweep cancelled (false).
  void scaling_finished(bool ok);

 protected:
  void closeEvent(QCloseEvent* event) override;

 private:
  void build_ui();
  void update_title();
  QString describe_result() const;
  void build_menu();
  void update_run_state();
  void show_output(RunOutput out);
  /// The scaling tab while its sweep runs, and once it is done.
  void show_scaling_pending();
  void show_scaling(const std::vector<ScalingLine>& lines);
  /// Stops a pending scaling sweep (its late result is ignored); `why` goes in the tab.
  void stop_scaling(const QString& why);
  void finish_scaling(std::uint64_t generation,
                      std::shared_ptr<std::vector<ScalingLine>> lines);
  /// The DES's critical path by category and per-GPU peak memory (messages when analytical).
  void show_des_results(const Report& r);
  void finish_async(std::uint64_t generation, std::shared_ptr<RunOutput> out);
  void on_open();
  void on_export(const QString& kind);

  ScenarioDocument document_;
  std::optional<Report> result_;
  Json result_doc_;            // the document result_ was run from
  QString result_file_;        // and its file, for the "result is for …" line
  std::vector<Json> pinned_docs_;  // what each pin was run from (no duplicate pins)
  DiscardPrompt discard_prompt_;
  SavePathPrompt save_path_prompt_;
  QString last_error_;
  std::uint64_t next_generation_ = 1;
  std::uint64_t running_generation_ = 0;
  /// The run whose scaling sweep is pending (0: none); its worker shares cancel_flag_.
  std::uint64_t scaling_generation_ = 0;
  std::shared_ptr<std::atomic<bool>> cancel_flag_;
  QString done_status_;  // the status line of the shown result
  std::vector<QThread*> threads_;
  std::vector<std::shared_ptr<std::atomic<bool>>> cancel_flags_;

  ScenarioPanel* panel_ = nullptr;
  QPushButton* open_button_ = nullptr;
  QPushButton* save_button_ = nullptr;
  QPushButton* run_button_ = nullptr;
  QPushButton* cancel_button_ = nullptr;
  QPushButton* pin_button_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QLabel* status_ = nullptr;
  QLabel* stale_ = nullptr;
  QAction* run_action_ = nullptr;
  QTabWidget* tabs_ = nullptr;
  SummaryPanel* summary_ = nullptr;
  ChartAdapter* breakdown_ = nullptr;
  ChartAdapter* memory_ = nullptr;
  ChartAdapter* scaling_days_ = nullptr;
  ChartAdapter* scaling_cost_ = nullptr;
  QLabel* scaling_note_ = nullptr;
  TimelineView* timeline_ = nullptr;
  QLabel* timeline_caption_ = nullptr;
  TrafficHeatmap* traffic_ = nullptr;
  LinkTrafficView* links_ = nullptr;
  ChartAdapter* critical_path_ = nullptr;
  QLabel* critical_path_note_ = nullptr;
  ChartAdapter* gpu_memory_ = nullptr;
  ComparePanel* compare_ = nullptr;
  QList<QAction*> result_actions_;
};

}  // namespace clustercost
