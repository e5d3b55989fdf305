#include "gui/main_window.hpp"

#include <algorithm>
#include <exception>
#include <map>
#include <string>

#include <QAction>
#include <QCloseEvent>
#include <QFileInfo>
#include <QGuiApplication>
#include <QKeySequence>
#include <QScreen>
#include <QApplication>
#include <QFileDialog>
#include <QFontDatabase>
#include <QGraphicsScene>
#include <QHBoxLayout>
#include <QImage>
#include <QMenuBar>
#include <QMessageBox>
#include <QPageLayout>
#include <QPageSize>
#include <QPainter>
#include <QPdfWriter>
#include <QPointer>
#include <QSaveFile>
#include <QScrollArea>
#include <QSplitter>
#include <QStatusBar>
#include <QThread>
#include <QVBoxLayout>

#include "gui/report_pdf.hpp"
#include "sim/common/atomic_file.hpp"
#include "sim/common/input_error.hpp"

namespace clustercost {

namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

const char* kTabNames[] = {"summary", "breakdown", "memory", "scaling",
                           "timeline", "traffic", "compare"};

// Writes through the library's atomic writer (no half-written file on failure).
bool write_text(const QString& path, const std::string& content, QString* error) {
  try {
    write_file_atomically(path.toStdString(), content);
    return true;
  } catch (const std::exception& e) {
    if (error) *error = QString("%1: %2").arg(path, qs(e.what()));
    return false;
  }
}

// Which step model the scaling points use, and, when it is not the report's, what that model
// gives at the scenario's own point next to the summary's figures, so that the 1× point of the
// scenario's GPU does not silently differ from the summary.
QString scaling_fidelity_note(const Report& r, const std::vector<ScalingLine>& lines) {
  const Scenario& s = r.scenario;
  if (s.simulation.fidelity == kScalingFidelity)
    return QObject::tr("Every point uses the %1 step model, as this scenario does.")
        .arg(kScalingFidelity);
  const ScalingPoint* own = nullptr;
  for (const auto& line : lines)
    if (line.gpu == s.gpu.name)
      for (const auto& p : line.points)
        if (p.gpus == s.cluster.gpus) own = &p;
  const QString model =
      QObject::tr("Every point uses the %1 step model (a %2 run per point would take up to "
                  "a second each); the summary uses the %3.")
          .arg(kScalingFidelity, qs(s.simulation.fidelity), qs(r.step.fidelity));
  const QString summary = QObject::tr("this scenario's %1 step is %2 s (%3 days)")
                              .arg(qs(r.step.fidelity), qs(format_si(r.step.step_time.value)),
                                   qs(format_si(r.run.wall_days)));
  if (!own) return QObject::tr("%1 Here %2.").arg(model, summary);
  return QObject::tr("%1 At %2 × %3 the %4 model gives %5 s per step (%6 days); %7.")
      .arg(model)
      .arg(s.cluster.gpus)
      .arg(qs(s.gpu.name), kScalingFidelity, qs(format_si(own->step_s)),
           qs(format_si(own->wall_days)), summary);
}

}  // namespace

RunOutput compute_run(const Json& doc, const Scenario& scenario,
                      const std::atomic<bool>* cancel) {
  RunOutput out;
  out.doc = doc;
  try {
    if (scenario.simulation.fidelity == "des") {
      // The report's step and the timeline's task records from one DES run: the DES is most
      // of the wait, and simulating the step twice doubled it.
      DesOptions options;
      options.record_tasks = true;
      const DesStep des = simulate_step_des_detailed(scenario, options);
      out.timeline = pipeline_timeline(des, scenario);
      out.report = run_scenario_with_step(scenario, des.result);
      return out;
    }
    out.report = run_scenario(scenario);
  } catch (const std::exception& e) {
    out.report.reset();
    out.error = e.what();
    return out;
  }
  if (cancel && cancel->load()) return out;
  // The timeline always shows the DES, whatever the report's fidelity.
  out.timeline = pipeline_timeline(scenario);
  return out;
}

std::vector<ScalingLine> compute_scaling(const Catalog& catalog, const DataDirs& dirs,
                                         const std::string& file, const Json& doc,
                                         const Scenario& scenario,
                                         const std::atomic<bool>* cancel) {
  return scaling_sweep(catalog, dirs, file, doc, scenario, default_scaling_factors(), cancel,
                       kScalingFidelity);
}

MainWindow::MainWindow(DataDirs dirs, QWidget* parent)
    : QMainWindow(parent), document_(std::move(dirs)) {
  build_ui();
  build_menu();
  discard_prompt_ = [this](const QString& question) {
    return QMessageBox::question(this, tr("Unsaved edits"), question,
                                 QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel,
                                 QMessageBox::Save);
  };
  save_path_prompt_ = [this] {
    const QString start = document_.is_new() ? qs(document_.dirs().scenarios().string())
                                             : qs(document_.file());
    return QFileDialog::getSaveFileName(this, tr("Save scenario"), start,
                                        tr("Scenario JSON (*.json)"));
  };
  if (const QScreen* screen = QGuiApplication::primaryScreen())
    fit_to_screen(screen->availableGeometry());
  update_title();
  update_run_state();
}

void MainWindow::fit_to_screen(const QRect& available) {
  // The frame (title bar, borders) is not part of resize(); leave room for a typical one.
  constexpr int kFrameW = 16, kFrameH = 48;
  const QSize want(std::min(1600, available.width() - kFrameW),
                   std::min(1000, available.height() - kFrameH));
  resize(want.expandedTo(minimumSizeHint()).boundedTo(available.size()));
  move(available.center() - QPoint(width() / 2, height() / 2));
}

MainWindow::~MainWindow() {
  // A worker only reads the catalogue and its own copies; let it finish before they go.
  for (auto& flag : cancel_flags_) flag->store(true);
  for (QThread* t : threads_) {
    t->wait();
    delete t;  // its queued clean-up will not run once this window is gone
  }
}

void MainWindow::build_ui() {
  auto* splitter = new QSplitter(this);

  auto* left = new QWidget(splitter);
  auto* left_layout = new QVBoxLayout(left);
  auto* file_row = new QHBoxLayout();
  open_button_ = new QPushButton(tr("Open…"), left);
  save_button_ = new QPushButton(tr("Save…"), left);
  file_row->addWidget(open_button_);
  file_row->addWidget(save_button_);
  left_layout->addLayout(file_row);
  panel_ = new ScenarioPanel(document_, left);
  auto* scroll = new QScrollArea(left);
  scroll->setWidget(panel_);
  scroll->setWidgetResizable(true);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  left_layout->addWidget(scroll, 1);
  auto* run_row = new QHBoxLayout();
  run_button_ = new QPushButton(tr("Run"), left);
  run_button_->setDefault(true);
  cancel_button_ = new QPushButton(tr("Cancel"), left);
  pin_button_ = new QPushButton(tr("Pin"), left);
  pin_button_->setToolTip(tr("Add the shown result to the compare tab"));
  run_row->addWidget(run_button_);
  run_row->addWidget(cancel_button_);
  run_row->addWidget(pin_button_);
  left_layout->addLayout(run_row);
  progress_ = new QProgressBar(left);
  progress_->setRange(0, 0);  // busy indicator: the analytical run has no progress to report
  progress_->setTextVisible(false);
  progress_->hide();
  left_layout->addWidget(progress_);
  // The buttons keep their place when the progress bar shows (it keeps its room while hidden).
  QSizePolicy keep = progress_->sizePolicy();
  keep.setRetainSizeWhenHidden(true);
  progress_->setSizePolicy(keep);
  left->setMinimumWidth(300);
  left->setMaximumWidth(460);

  tabs_ = new QTabWidget(splitter);
  summary_ = new SummaryPanel();
  // Breakdown: the step's breakdown by kind of time (both fidelities) over the DES's critical
  // path by op category; memory: the footprint over each simulated GPU's peak.
  auto* breakdown_page = new QSplitter(Qt::Vertical);
  breakdown_ = new ChartAdapter(breakdown_page);
  auto* path_box = new QWidget(breakdown_page);
  auto* path_layout = new QVBoxLayout(path_box);
  path_layout->setContentsMargins(0, 0, 0, 0);
  critical_path_ = new ChartAdapter(path_box);
  // Every category with its seconds and share, readable however small its bar.
  critical_path_note_ = new QLabel(path_box);
  critical_path_note_->setWordWrap(true);
  critical_path_note_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  critical_path_note_->setContentsMargins(10, 0, 10, 4);
  path_layout->addWidget(critical_path_, 1);
  path_layout->addWidget(critical_path_note_);
  breakdown_page->addWidget(breakdown_);
  breakdown_page->addWidget(path_box);
  breakdown_page->setSizes({1000, 1000});  // halves, whatever the size hints
  auto* memory_page = new QSplitter(Qt::Vertical);
  memory_ = new ChartAdapter(memory_page);
  gpu_memory_ = new ChartAdapter(memory_page);
  memory_page->addWidget(memory_);
  memory_page->addWidget(gpu_memory_);
  memory_page->setSizes({1000, 1000});
  auto* scaling = new QWidget();
  auto* scaling_layout = new QVBoxLayout(scaling);
  scaling_days_ = new ChartAdapter(scaling);
  scaling_cost_ = new ChartAdapter(scaling);
  scaling_note_ = new QLabel(scaling);
  scaling_note_->setWordWrap(true);
  scaling_layout->addWidget(scaling_days_, 1);
  scaling_layout->addWidget(scaling_cost_, 1);
  scaling_layout->addWidget(scaling_note_);
  auto* timeline_page = new QWidget();
  auto* timeline_layout = new QVBoxLayout(timeline_page);
  timeline_layout->setContentsMargins(0, 0, 0, 0);
  timeline_ = new TimelineView(timeline_page);
  // What the timeline shows, under it in a label that wraps at any width (the PDF prints it
  // too); the mouse hint is for the screen only.
  timeline_caption_ = new QLabel(timeline_page);
  timeline_caption_->setWordWrap(true);
  timeline_caption_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* timeline_hint =
      new QLabel(tr("Mouse wheel: zoom the time axis; drag: pan; hover a block for its op."),
                 timeline_page);
  timeline_hint->setStyleSheet("color: #555;");
  timeline_layout->addWidget(timeline_, 1);
  timeline_layout->addWidget(timeline_caption_);
  timeline_layout->addWidget(timeline_hint);
  // Traffic: the MoE token matrix over the DES's links.
  auto* traffic_page = new QSplitter(Qt::Vertical);
  traffic_ = new TrafficHeatmap(traffic_page);
  links_ = new LinkTrafficView(traffic_page);
  traffic_page->addWidget(traffic_);
  traffic_page->addWidget(links_);
  traffic_page->setStretchFactor(0, 1);
  traffic_page->setStretchFactor(1, 1);
  auto* compare_page = new QWidget();
  auto* compare_layout = new QVBoxLayout(compare_page);
  compare_ = new ComparePanel(compare_page);
  auto* clear_pins = new QPushButton(tr("Clear pins"), compare_page);
  compare_layout->addWidget(compare_, 1);
  compare_layout->addWidget(clear_pins, 0, Qt::AlignLeft);

  QWidget* pages[] = {summary_,      breakdown_page, memory_page, scaling,
                      timeline_page, traffic_page,   compare_page};
  for (int i = 0; i < 7; ++i) {
    pages[i]->setObjectName(kTabNames[i]);
    tabs_->addTab(pages[i], kTabNames[i]);
  }
  // Above the tabs: what the shown result is for, when the form no longer matches it.
  auto* right = new QWidget(splitter);
  auto* right_layout = new QVBoxLayout(right);
  right_layout->setContentsMargins(0, 0, 0, 0);
  stale_ = new QLabel(right);
  stale_->setObjectName("stale_banner");
  stale_->setWordWrap(true);
  stale_->setStyleSheet("background: #fff3c4; color: #5a4500; padding: 4px 8px; "
                        "border: 1px solid #e0c060;");
  stale_->hide();
  right_layout->addWidget(stale_);
  right_layout->addWidget(tabs_, 1);
  splitter->addWidget(left);
  splitter->addWidget(right);
  splitter->setStretchFactor(1, 1);
  splitter->setChildrenCollapsible(false);
  setCentralWidget(splitter);
  status_ = new QLabel(this);
  status_->setObjectName("status");
  // Long messages (the loader's) are elided by the status bar's width, not allowed to widen
  // the window past the screen; the full text is in the tooltip.
  status_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
  statusBar()->addWidget(status_, 1);

  breakdown_->clear(tr("Run a scenario to see where the step time goes"));
  memory_->clear(tr("Run a scenario to see the memory per GPU"));
  critical_path_->clear(QString());
  gpu_memory_->clear(QString());
  scaling_days_->clear(tr("Run a scenario to see how it scales"));
  scaling_cost_->clear(QString());
  traffic_->clear(tr("No result yet."));

  connect(panel_, &ScenarioPanel::document_changed, this, [this] {
    update_title();
    update_run_state();
  });
  connect(panel_, &ScenarioPanel::run_requested, this, &MainWindow::start_run);
  connect(run_button_, &QPushButton::clicked, this, &MainWindow::start_run);
  connect(cancel_button_, &QPushButton::clicked, this, &MainWindow::cancel_run);
  connect(pin_button_, &QPushButton::clicked, this, [this] { pin_current(); });
  connect(clear_pins, &QPushButton::clicked, this, [this] {
    compare_->clear_pins();
    pinned_docs_.clear();
    update_run_state();
  });
  connect(open_button_, &QPushButton::clicked, this, &MainWindow::on_open);
  connect(save_button_, &QPushButton::clicked, this, &MainWindow::save);
}

void MainWindow::build_menu() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&New scenario"), QKeySequence::New, this, &MainWindow::new_scenario);
  file->addAction(tr("&Open scenario…"), QKeySequence::Open, this, &MainWindow::on_open);
  file->addAction(tr("&Save scenario"), QKeySequence::Save, this, &MainWindow::save);
  file->addAction(tr("Save scenario &as…"), QKeySequence::SaveAs, this, &MainWindow::save_as);
  file->addSeparator();
  result_actions_ << file->addAction(tr("Export report as &PDF…"), this,
                                     [this] { on_export("pdf"); });
  result_actions_ << file->addAction(tr("Export report as &HTML…"), this,
                                     [this] { on_export("html"); });
  result_actions_ << file->addAction(tr("Export report as &CSV…"), this,
                                     [this] { on_export("csv"); });
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence(Qt::CTRL | Qt::Key_Q), this, &QWidget::close);
  QMenu* run = menuBar()->addMenu(tr("&Run"));
  run_action_ = run->addAction(tr("&Run scenario"), this, &MainWindow::start_run);
  run_action_->setShortcuts({QKeySequence(Qt::CTRL | Qt::Key_R), QKeySequence(Qt::Key_F5)});
  run_action_->setShortcutContext(Qt::WindowShortcut);
  run_button_->setToolTip(tr("Run the scenario (Ctrl+R, F5, or Return in a field)"));
}

void MainWindow::update_title() {
  const QString name = document_.is_new() ? tr("new scenario")
                                          : QFileInfo(qs(document_.file())).fileName();
  setWindowTitle(tr("%1[*] — clustercost").arg(name));
  setWindowModified(document_.modified());
}

bool MainWindow::result_is_current() const {
  return result_.has_value() && document_.json() == result_doc_;
}

QString MainWindow::describe_result() const {
  if (!result_) return QString();
  const auto& s = result_->scenario;
  return tr("%1 (%2)").arg(qs(s.name), qs(layout_label(*result_)));
}

void MainWindow::update_run_state() {
  const bool busy = running();
  const bool current = result_is_current();
  bool pinned = false;
  for (const Json& d : pinned_docs_) pinned = pinned || (current && d == result_doc_);
  run_button_->setEnabled(document_.valid() && !busy);
  run_action_->setEnabled(document_.valid() && !busy);
  // Cancel also stops a scaling sweep; Run stays on during one (a new run stops it).
  cancel_button_->setEnabled(busy || scaling_pending());
  cancel_button_->setToolTip(busy ? tr("Stop waiting for this run")
                             : scaling_pending() ? tr("Stop the scaling sweep")
                                                 : QString());
  pin_button_->setEnabled(current && !busy && !pinned);
  pin_button_->setToolTip(pinned    ? tr("This result is pinned already")
                          : current ? tr("Add the shown result to the compare tab")
                                    : tr("Run first: the form does not match the shown result"));
  progress_->setVisible(busy || scaling_pending());
  for (QAction* a : result_actions_) a->setEnabled(result_.has_value());
  // The banner: the shown result is not what the form describes.
  if (result_ && !current) {
    stale_->setText(tr("Result is for %1; the form has changed since. Run to update.")
                        .arg(describe_result()));
    stale_->show();
  } else {
    stale_->hide();
  }
  QString status;
  if (!document_.valid()) {
    const auto n = document_.problems().size();
    status = n > 1 ? tr("Scenario invalid: %1 problems, listed under the fields.").arg(n)
                   : tr("Scenario invalid: %1").arg(qs(document_.error()));
  } else if (busy) {
    status = tr("Running…");
  }
  if (!status.isEmpty()) {
    status_->setText(status);
    status_->setToolTip(status);
  }
}

bool MainWindow::maybe_discard(const QString& action) {
  if (!document_.modified()) return true;
  const auto answer = discard_prompt_(
      tr("The scenario has unsaved edits. Save them before %1?").arg(action));
  if (answer == QMessageBox::Save) return save();
  return answer == QMessageBox::Discard;
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (maybe_discard(tr("quitting"))) event->accept();
  else event->ignore();
}

void MainWindow::new_scenario() {
  if (!maybe_discard(tr("starting a new one"))) return;
  document_.new_document();
  panel_->refresh();
  update_title();
  update_run_state();
  status_->setText(tr("New scenario: %1").arg(qs(document_.json().value("description", ""))));
}

bool MainWindow::open_scenario(const QString& path) {
  try {
    document_.load_file(path.toStdString());
  } catch (const std::exception& e) {
    last_error_ = qs(e.what());
    status_->setText(last_error_);
    return false;
  }
  panel_->refresh();
  update_title();
  update_run_state();
  if (!document_.valid()) {
    last_error_ = qs(document_.error());
    return false;
  }
  last_error_.clear();
  status_->setText(tr("Loaded %1").arg(path));
  status_->setToolTip(path);
  return true;
}

bool MainWindow::run_blocking() {
  if (!document_.valid()) {
    last_error_ = qs(document_.error());
    return false;
  }
  // A sweep still running for an earlier asynchronous run would overwrite this result's tab.
  stop_scaling(tr("Scaling sweep stopped: a new run started."));
  const Json doc = document_.json();
  const Scenario scenario = *document_.scenario();
  RunOutput out = compute_run(doc, scenario);
  const bool ok = out.report.has_value();
  const std::uint64_t generation = next_generation_++;
  if (ok) scaling_generation_ = generation;
  show_output(std::move(out));
  if (ok)
    finish_scaling(generation, std::make_shared<std::vector<ScalingLine>>(compute_scaling(
                                   document_.catalog(), document_.dirs(), document_.file(), doc,
                                   scenario)));
  return ok;
}

void MainWindow::start_run() {
  if (!document_.valid() || running()) return;
  // A new run supersedes the shown result's sweep: stop it rather than let it compete for the
  // CPU with this run's simulation.
  stop_scaling(tr("Scaling sweep stopped: a new run started."));
  const std::uint64_t generation = next_generation_++;
  running_generation_ = generation;
  auto cancel = std::make_shared<std::atomic<bool>>(false);
  cancel_flag_ = cancel;
  cancel_flags_.push_back(cancel);
  // The worker gets copies of the document and scenario; the catalogue is never modified after
  // construction, and the destructor waits for workers, so reading it there is safe.
  const Catalog* catalog = &document_.catalog();
  const DataDirs dirs = document_.dirs();
  const std::string file = document_.file();
  const Json doc = document_.json();
  const Scenario scenario = *document_.scenario();
  QPointer<MainWindow> self(this);
  QThread* thread = QThread::create([=] {
    // Phase 1: the scenario's own simulation, shown as soon as it is done.
    auto out = std::make_shared<RunOutput>(compute_run(doc, scenario, cancel.get()));
    const bool ok = out->report.has_value();
    if (!self) return;
    QMetaObject::invokeMethod(
        self, [self, generation, out] { if (self) self->finish_async(generation, out); },
        Qt::QueuedConnection);
    if (!ok || cancel->load()) return;
    // Phase 2: the scaling tab's sweep, while the user reads the other tabs.
    auto lines = std::make_shared<std::vector<ScalingLine>>(
        compute_scaling(*catalog, dirs, file, doc, scenario, cancel.get()));
    if (cancel->load() || !self) return;
    QMetaObject::invokeMethod(
        self, [self, generation, lines] { if (self) self->finish_scaling(generation, lines); },
        Qt::QueuedConnection);
  });
  threads_.push_back(thread);
  connect(thread, &QThread::finished, this, [this, thread, cancel] {
    threads_.erase(std::remove(threads_.begin(), threads_.end(), thread), threads_.end());
    cancel_flags_.erase(std::remove(cancel_flags_.begin(), cancel_flags_.end(), cancel),
                        cancel_flags_.end());
    thread->deleteLater();
  });
  thread->start();
  update_run_state();
}

void MainWindow::cancel_run() {
  if (!running()) {
    // Only the sweep is left: stop it between two points; the shown result stays.
    if (scaling_pending()) {
      stop_scaling(tr("Scaling sweep cancelled; Run again to compute it."));
      status_->setText(tr("%1 Scaling sweep cancelled.").arg(done_status_));
      update_run_state();
    }
    return;
  }
  // The simulation cannot be interrupted mid-way; cancelling discards its result when it
  // arrives, and its worker then does not start the scaling sweep.
  if (cancel_flag_) cancel_flag_->store(true);
  running_generation_ = 0;
  status_->setText(result_ && !result_is_current()
                       ? tr("Run cancelled: the result shown is for the earlier scenario.")
                       : tr("Run cancelled."));
  update_run_state();
  emit run_finished(false);
}

void MainWindow::finish_async(std::uint64_t generation, std::shared_ptr<RunOutput> out) {
  if (generation != running_generation_) return;  // cancelled, or superseded
  running_generation_ = 0;
  // The worker goes on with this result's sweep.
  if (out->report) scaling_generation_ = generation;
  show_output(std::move(*out));
}

void MainWindow::finish_scaling(std::uint64_t generation,
                                std::shared_ptr<std::vector<ScalingLine>> lines) {
  if (generation != scaling_generation_) return;  // cancelled, or superseded
  scaling_generation_ = 0;
  show_scaling(*lines);
  if (!running()) status_->setText(done_status_);
  update_run_state();
  emit scaling_finished(true);
}

void MainWindow::stop_scaling(const QString& why) {
  if (!scaling_pending()) return;
  if (cancel_flag_) cancel_flag_->store(true);
  scaling_generation_ = 0;
  scaling_days_->clear(why);
  scaling_cost_->clear(QString());
  scaling_note_->clear();
  emit scaling_finished(false);
}

void MainWindow::show_output(RunOutput out) {
  if (!out.report) {
    last_error_ = qs(out.error);
    status_->setText(tr("Run failed: %1").arg(last_error_));
    update_run_state();
    emit run_finished(false);
    return;
  }
  result_ = std::move(out.report);
  result_doc_ = std::move(out.doc);
  const Report& r = *result_;
  const Scenario& s = r.scenario;
  summary_->show_report(r);

  // Breakdown: the critical (slowest) stage's rank, which sets the step time, and the mean.
  const StepBreakdown* views[] = {&r.step.critical, &r.step.mean};
  const std::pair<const char*, Seconds StepBreakdown::*> parts[] = {
      {"compute", &StepBreakdown::compute},
      {"exposed TP comm", &StepBreakdown::exposed_tp_comm},
      {"exposed EP comm", &StepBreakdown::exposed_ep_comm},
      {"exposed PP comm", &StepBreakdown::exposed_pp_comm},
      {"exposed DP comm", &StepBreakdown::exposed_dp_comm},
      {"pipeline bubble", &StepBreakdown::bubble},
      {"optimizer", &StepBreakdown::optimizer}};
  std::vector<ChartSeries> sets;
  for (const auto& [name, member] : parts) {
    ChartSeries set{name, {}, {}};
    for (const StepBreakdown* b : views) set.y.push_back((b->*member).value);
    sets.push_back(std::move(set));
  }
  breakdown_->stacked_bar(
      tr("Step time breakdown: %1 s per step").arg(qs(format_si(r.step.step_time.value))),
      {tr("critical rank (stage %1)").arg(r.step.critical_stage), tr("mean over stages")}, sets,
      tr("time per step (s)"));

  const auto& m = r.step.memory;
  memory_->stacked_bar(
      tr("Memory per GPU: %1 of %2 GiB (%3)")
          .arg(qs(format_fixed(to_gib(m.total()), 1)), qs(format_fixed(to_gib(m.capacity), 1)),
               m.fits() ? tr("fits") : tr("does NOT fit")),
      {tr("largest stage (%1)").arg(m.stage)},
      {{"weights", {}, {to_gib(m.weights)}},
       {"gradients", {}, {to_gib(m.gradients)}},
       {"optimizer", {}, {to_gib(m.optimizer)}},
       {"activations", {}, {to_gib(m.activations)}}},
      tr("memory per GPU (GiB)"),
      ReferenceLine{tr("HBM capacity (%1 GiB)").arg(qs(format_fixed(to_gib(m.capacity), 1))),
                    to_gib(m.capacity)});

  show_des_results(r);

  show_scaling_pending();

  timeline_->show_timeline(
      out.timeline,
      r.step.fidelity == "des"
          ? QString()
          : tr("The report uses the %1 step model: %2 s per step (the DES gives %3 s).")
                .arg(qs(r.step.fidelity), qs(format_si(r.step.step_time.value)),
                     qs(format_si(out.timeline.step_time_s))));
  timeline_caption_->setText(timeline_->caption());
  traffic_->show_traffic(r.step.moe);
  // A dense model (or ep = 1) has no token matrix: the links get the whole tab.
  traffic_->setVisible(traffic_->ranks() > 0);
  links_->show_links(r.step);
  last_error_.clear();
  done_status_ = tr("Done: %1 s per step, %2 days, $%3.")
                     .arg(qs(format_si(r.step.step_time.value)), qs(format_si(r.run.wall_days)),
                          qs(format_si(r.cost.total_usd)));
  status_->setText(scaling_pending() ? tr("%1 Computing the scaling chart…").arg(done_status_)
                                     : done_status_);
  update_run_state();
  emit run_finished(true);
}

void MainWindow::show_scaling_pending() {
  if (!scaling_pending()) {
    scaling_days_->clear(tr("No scaling sweep for this result: Run to compute it."));
    scaling_cost_->clear(QString());
    scaling_note_->clear();
    return;
  }
  scaling_days_->clear(tr("Scaling chart: computing… (every catalogue GPU type at 0.25–4× the "
                          "GPUs, %1 step model)")
                           .arg(kScalingFidelity));
  scaling_cost_->clear(QString());
  scaling_note_->setText(tr("The other tabs show the finished result; this one fills when the "
                            "sweep is done (Cancel stops it)."));
}

void MainWindow::show_scaling(const std::vector<ScalingLine>& lines) {
  if (!result_) return;
  const Report& r = *result_;
  const Scenario& s = r.scenario;
  std::vector<ChartSeries> days, cost;
  for (const auto& line : lines) {
    ChartSeries d{qs(line.gpu), {}, {}}, c{qs(line.gpu), {}, {}};
    for (const auto& p : line.points) {
      d.x.push_back(static_cast<double>(p.gpus));
      d.y.push_back(p.wall_days);
      d.flagged.push_back(!p.fits);
      c.x.push_back(static_cast<double>(p.gpus));
      c.y.push_back(p.total_usd / 1e6);
      c.flagged.push_back(!p.fits);
    }
    days.push_back(std::move(d));
    cost.push_back(std::move(c));
  }
  if (days.empty()) {
    scaling_days_->clear(tr("No GPU type validates this model and layout at 0.25–4× the GPUs"));
    scaling_cost_->clear(QString());
  } else {
    scaling_days_->line_series(tr("Wall time vs GPU count (%1, same layout)").arg(qs(s.model.name)),
                               days, tr("GPUs (log₂ scale)"), tr("days"), true,
                               tr("does not fit in HBM"));
    scaling_cost_->line_series(tr("Cost vs GPU count"), cost, tr("GPUs (log₂ scale)"),
                               tr("million USD"), true, tr("does not fit in HBM"));
  }
  scaling_note_->setText(
      tr("%1 × {0.25, 0.5, 1, 2, 4} GPUs with tp %2 · cp %3 · pp %4 · ep %5 kept; GPU types "
         "or counts that do not validate are left out, red rings mark points whose memory does "
         "not fit in HBM. %6 is priced "
         "at the scenario's $%7/GPU-hour, the other types at their catalogue rental price.")
          .arg(s.cluster.gpus)
          .arg(s.parallelism.tp)
          .arg(s.parallelism.cp)
          .arg(s.parallelism.pp)
          .arg(s.parallelism.ep)
          .arg(qs(s.gpu.name))
          .arg(qs(format_fixed(r.cost.gpu_hour_usd, 2))) +
      " " + scaling_fidelity_note(r, lines));
}

void MainWindow::show_des_results(const Report& r) {
  const StepResult& step = r.step;
  const QString needs_des =
      tr("needs the discrete-event simulation: this result uses the %1 step model (set "
         "simulation.fidelity to \"des\")")
          .arg(qs(step.fidelity));
  // The critical path by op category, most time first (it adds up to the step time).
  critical_path_note_->clear();
  if (step.fidelity != "des" || step.critical_path.empty()) {
    critical_path_->clear(step.fidelity != "des"
                              ? tr("Critical path by op category %1").arg(needs_des)
                              : tr("The DES recorded no critical path for this step"));
  } else {
    std::vector<PathShare> path = step.critical_path;
    std::stable_sort(path.begin(), path.end(), [](const PathShare& a, const PathShare& b) {
      return a.time.value > b.time.value;
    });
    QStringList categories, parts;
    ChartSeries bars{tr("time on the critical path (s)"), {}, {}};
    for (const auto& p : path) {
      categories << qs(p.category);
      bars.y.push_back(p.time.value);
      parts << tr("%1 %2 s (%3 %)")
                   .arg(qs(p.category), qs(format_si(p.time.value)),
                        qs(format_fixed(100.0 * p.time.value / step.step_time.value, 1)));
    }
    critical_path_->bar_set(
        tr("Critical path of the simulated step by op category: %1 s (DES, %2 GPUs simulated)")
            .arg(qs(format_si(step.step_time.value)))
            .arg(step.simulated_gpus),
        categories, {bars}, tr("time per step (s)"));
    critical_path_note_->setText(
        tr("Critical path: %1. \"bubble\" is the critical rank waiting for work of other "
           "ranks.")
            .arg(parts.join(" · ")));
  }
  // Each simulated GPU's peak: the static footprint plus the activations in flight at its
  // simulated peak. Many GPUs (every rank simulated): the largest GPU of each stage.
  if (step.fidelity != "des" || step.gpu_memory.empty()) {
    gpu_memory_->clear(step.fidelity != "des" ? tr("Peak memory per simulated GPU %1").arg(needs_des)
                                              : tr("The DES recorded no per-GPU memory"));
    return;
  }
  constexpr std::size_t kMaxBars = 32;
  std::vector<GpuMemoryPeak> shown;
  const bool per_stage = step.gpu_memory.size() > kMaxBars;
  if (!per_stage) {
    shown = step.gpu_memory;
  } else {
    std::map<int, GpuMemoryPeak> largest;
    for (const auto& g : step.gpu_memory) {
      auto it = largest.find(g.stage);
      if (it == largest.end() || g.total.value > it->second.total.value) largest[g.stage] = g;
    }
    for (const auto& [stage, g] : largest) shown.push_back(g);
  }
  QStringList categories;
  ChartSeries fixed{tr("weights, gradients, optimizer state"), {}, {}};
  ChartSeries acts{tr("activations at the simulated peak"), {}, {}};
  double most = 0;
  // Labels short enough for up to 32 bars: "stage s" when each stage has one bar, else the
  // GPU id (with its stage when there is room).
  std::map<int, int> bars_per_stage;
  for (const auto& g : shown) ++bars_per_stage[g.stage];
  bool one_per_stage = true;
  for (const auto& [stage, n] : bars_per_stage) one_per_stage = one_per_stage && n == 1;
  for (const auto& g : shown) {
    categories << (one_per_stage        ? tr("stage %1").arg(g.stage)
                   : shown.size() <= 8 ? tr("GPU %1 (stage %2)").arg(g.gpu).arg(g.stage)
                                       : QString::number(g.gpu));
    fixed.y.push_back(to_gib(g.total - g.activations));
    acts.y.push_back(to_gib(g.activations));
    most = std::max(most, to_gib(g.total));
  }
  const double capacity = to_gib(step.memory.capacity);
  gpu_memory_->stacked_bar(
      per_stage ? tr("Peak memory of the simulated GPUs, largest of each stage: up to %1 GiB "
                     "(%2 GPUs simulated)")
                      .arg(qs(format_fixed(most, 1)))
                      .arg(step.gpu_memory.size())
      : one_per_stage
          ? tr("Peak memory per simulated GPU (one per stage, GPUs %1 … %2): up to %3 GiB (DES)")
                .arg(shown.front().gpu)
                .arg(shown.back().gpu)
                .arg(qs(format_fixed(most, 1)))
          : tr("Peak memory per simulated GPU (by GPU id): up to %1 GiB (DES)")
                .arg(qs(format_fixed(most, 1))),
      categories, {fixed, acts}, tr("memory per GPU (GiB)"),
      ReferenceLine{tr("HBM capacity (%1 GiB)").arg(qs(format_fixed(capacity, 1))), capacity});
}

bool MainWindow::pin_current(const QString& label) {
  // Only a result that is what the form says, and only once.
  if (!result_is_current() || running()) return false;
  for (const Json& d : pinned_docs_)
    if (d == result_doc_) return false;
  const QString name = label.isEmpty() ? tr("#%1").arg(compare_->pin_count() + 1) : label;
  compare_->add_pin(name, *result_);
  pinned_docs_.push_back(result_doc_);
  update_run_state();
  return true;
}

bool MainWindow::pin_variant(const QStringList& overrides, const QString& label,
                             QString* error) {
  try {
    Json doc = document_.json();
    for (const QString& o : overrides) apply_override(doc, o.toStdString());
    for (const Json& d : pinned_docs_) {
      if (d == doc) {
        if (error) *error = tr("%1: pinned already").arg(overrides.join(", "));
        return false;
      }
    }
    const Scenario s = document_.parse(doc);
    compare_->add_pin(label.isEmpty() ? overrides.join(", ") : label, run_scenario(s));
    pinned_docs_.push_back(std::move(doc));
    update_run_state();
    return true;
  } catch (const std::exception& e) {
    if (error) *error = qs(e.what());
    return false;
  }
}

QStringList MainWindow::tab_names() const {
  QStringList names;
  for (const char* n : kTabNames) names << n;
  return names;
}

bool MainWindow::show_tab(const QString& name) {
  for (int i = 0; i < tabs_->count(); ++i) {
    if (tabs_->widget(i)->objectName() == name) {
      tabs_->setCurrentIndex(i);
      return true;
    }
  }
  return false;
}

bool MainWindow::save_scenario(const QString& path, QString* error, QString* written) {
  // A name without an extension gets ".json", so that the Open dialog's filter shows it.
  QString target = path;
  if (QFileInfo(target).suffix().isEmpty()) target += ".json";
  if (!write_text(target, document_.json().dump(2) + "\n", error)) return false;
  document_.mark_saved(target.toStdString());
  update_title();
  if (written) *written = target;
  return true;
}

bool MainWindow::save() {
  if (document_.is_new()) return save_as();
  QString error;
  if (!save_scenario(qs(document_.file()), &error)) {
    QMessageBox::warning(this, tr("Save scenario"), error);
    return false;
  }
  status_->setText(tr("Saved %1").arg(qs(document_.file())));
  return true;
}

bool MainWindow::save_as() {
  const QString path = save_path_prompt_();
  if (path.isEmpty()) return false;
  QString error, written;
  if (!save_scenario(path, &error, &written)) {
    QMessageBox::warning(this, tr("Save scenario"), error);
    return false;
  }
  status_->setText(tr("Saved %1").arg(written));
  return true;
}

bool MainWindow::export_html(const QString& path, QString* error) {
  if (!result_) {
    if (error) *error = tr("no result to export: run first");
    return false;
  }
  return write_text(path, report_to_html(*result_), error);
}

bool MainWindow::export_csv(const QString& path, QString* error) {
  if (!result_) {
    if (error) *error = tr("no result to export: run first");
    return false;
  }
  return write_text(path, report_to_csv({*result_}), error);
}

bool MainWindow::export_pdf(const QString& path, QString* error) {
  if (!result_) {
    if (error) *error = tr("no result to export: run first");
    return false;
  }
  // The HTML report's pages (one writer for both), then what only the GUI computes: the
  // scaling sweep, the simulated step and the pinned results, drawn from the tabs' own charts.
  std::string html = report_to_html(*result_);
  std::vector<PdfImage> images;
  QString more;
  const QSize chart_size(1000, 560);
  if (!scaling_days_->series().empty()) {
    images.push_back({"gui-scaling-days", chart_image(*scaling_days_, chart_size)});
    images.push_back({"gui-scaling-cost", chart_image(*scaling_cost_, chart_size)});
    more += "<h2>Scaling with the GPU count</h2>\n<p>" + scaling_note_->text().toHtmlEscaped() +
            "</p>\n<p><img src=\"gui-scaling-days\"></p>\n<p><img src=\"gui-scaling-cost\"></p>\n";
  }
  else if (scaling_pending())
    more += "<h2>Scaling with the GPU count</h2>\n<p>" +
            tr("The scaling sweep was still computing when this report was written.")
                .toHtmlEscaped() +
            "</p>\n";
  if (timeline_->scene() && timeline_->block_count() > 0) {
    images.push_back({"gui-timeline", timeline_->render_image()});
    more += "<h2>One step, simulated</h2>\n<p><img src=\"gui-timeline\"></p>\n<p>" +
            timeline_->caption().toHtmlEscaped().replace("\n", "<br>") + "</p>\n";
  }
  if (compare_->pin_count() >= 1) {
    more += "<h2>Pinned results</h2>\n" + compare_->to_html();
    if (compare_->pin_count() >= 2) {
      images.push_back({"gui-compare", chart_image(*compare_->chart(), chart_size)});
      more += "<p><img src=\"gui-compare\"></p>\n";
    }
  }
  const auto body_end = html.rfind("</body>");
  if (body_end != std::string::npos) html.insert(body_end, more.toStdString());
  return write_html_pdf(path, tr("clustercost report: %1").arg(qs(result_->scenario.name)),
                        qs(html), images, error);
}

void MainWindow::on_open() {
  if (!maybe_discard(tr("opening another scenario"))) return;
  const QString path = QFileDialog::getOpenFileName(
      this, tr("Open scenario"), qs(document_.dirs().scenarios().string()),
      tr("Scenario JSON (*.json);;All files (*)"));
  if (path.isEmpty()) return;
  // An invalid scenario is shown in the panel (red lines); an unreadable file gets a dialog.
  if (!open_scenario(path) && qs(document_.file()) != path)
    QMessageBox::warning(this, tr("Open scenario"), last_error_);
}

void MainWindow::on_export(const QString& kind) {
  const QString filter = kind == "pdf"    ? tr("PDF (*.pdf)")
                         : kind == "html" ? tr("HTML (*.html)")
                                          : tr("CSV (*.csv)");
  const QString path = QFileDialog::getSaveFileName(this, tr("Export report"), QString(), filter);
  if (path.isEmpty()) return;
  QString error;
  const bool ok = kind == "pdf"    ? export_pdf(path, &error)
                  : kind == "html" ? export_html(path, &error)
                                   : export_csv(path, &error);
  if (!ok) QMessageBox::warning(this, tr("Export report"), error);
  else status_->setText(tr("Wrote %1").arg(path));
}

}  // namespace clustercost
