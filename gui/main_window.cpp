#include "gui/main_window.hpp"

#include <algorithm>
#include <exception>
#include <string>

#include <QAction>
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

}  // namespace

RunOutput compute_run(const Catalog& catalog, const DataDirs& dirs, const std::string& file,
                      const Json& doc, const Scenario& scenario,
                      const std::atomic<bool>* cancel) {
  RunOutput out;
  try {
    out.report = run_scenario(scenario);
  } catch (const std::exception& e) {
    out.error = e.what();
    return out;
  }
  if (cancel && cancel->load()) return out;
  out.timeline = pipeline_timeline(scenario);
  if (cancel && cancel->load()) return out;
  out.scaling = scaling_sweep(catalog, dirs, file, doc, scenario, default_scaling_factors(),
                              cancel);
  return out;
}

MainWindow::MainWindow(DataDirs dirs, QWidget* parent)
    : QMainWindow(parent), document_(std::move(dirs)) {
  setWindowTitle(tr("clustercost — what-if"));
  build_ui();
  build_menu();
  update_run_state();
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
  left->setMinimumWidth(340);
  left->setMaximumWidth(460);

  tabs_ = new QTabWidget(splitter);
  summary_ = new SummaryPanel();
  breakdown_ = new ChartAdapter();
  memory_ = new ChartAdapter();
  auto* scaling = new QWidget();
  auto* scaling_layout = new QVBoxLayout(scaling);
  scaling_days_ = new ChartAdapter(scaling);
  scaling_cost_ = new ChartAdapter(scaling);
  scaling_note_ = new QLabel(scaling);
  scaling_note_->setWordWrap(true);
  scaling_layout->addWidget(scaling_days_, 1);
  scaling_layout->addWidget(scaling_cost_, 1);
  scaling_layout->addWidget(scaling_note_);
  timeline_ = new TimelineView();
  traffic_ = new TrafficHeatmap();
  auto* compare_page = new QWidget();
  auto* compare_layout = new QVBoxLayout(compare_page);
  compare_ = new ComparePanel(compare_page);
  auto* clear_pins = new QPushButton(tr("Clear pins"), compare_page);
  compare_layout->addWidget(compare_, 1);
  compare_layout->addWidget(clear_pins, 0, Qt::AlignLeft);

  QWidget* pages[] = {summary_, breakdown_, memory_, scaling, timeline_, traffic_, compare_page};
  for (int i = 0; i < 7; ++i) {
    pages[i]->setObjectName(kTabNames[i]);
    tabs_->addTab(pages[i], kTabNames[i]);
  }
  splitter->addWidget(left);
  splitter->addWidget(tabs_);
  splitter->setStretchFactor(1, 1);
  setCentralWidget(splitter);
  status_ = new QLabel(this);
  statusBar()->addWidget(status_, 1);

  breakdown_->clear(tr("Run a scenario to see where the step time goes"));
  memory_->clear(tr("Run a scenario to see the memory per GPU"));
  scaling_days_->clear(tr("Run a scenario to see how it scales"));
  scaling_cost_->clear(QString());
  traffic_->clear(tr("No result yet."));

  connect(panel_, &ScenarioPanel::document_changed, this, &MainWindow::update_run_state);
  connect(run_button_, &QPushButton::clicked, this, &MainWindow::start_run);
  connect(cancel_button_, &QPushButton::clicked, this, &MainWindow::cancel_run);
  connect(pin_button_, &QPushButton::clicked, this, [this] { pin_current(); });
  connect(clear_pins, &QPushButton::clicked, this, [this] { compare_->clear_pins(); });
  connect(open_button_, &QPushButton::clicked, this, &MainWindow::on_open);
  connect(save_button_, &QPushButton::clicked, this, &MainWindow::on_save);
}

void MainWindow::build_menu() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("&Open scenario…"), QKeySequence::Open, this, &MainWindow::on_open);
  file->addAction(tr("&Save scenario as JSON…"), QKeySequence::Save, this, &MainWindow::on_save);
  file->addSeparator();
  result_actions_ << file->addAction(tr("Export report as &PDF…"), this,
                                     [this] { on_export("pdf"); });
  result_actions_ << file->addAction(tr("Export report as &HTML…"), this,
                                     [this] { on_export("html"); });
  result_actions_ << file->addAction(tr("Export report as &CSV…"), this,
                                     [this] { on_export("csv"); });
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
}

void MainWindow::update_run_state() {
  const bool busy = running();
  run_button_->setEnabled(document_.valid() && !busy);
  cancel_button_->setEnabled(busy);
  pin_button_->setEnabled(result_.has_value());
  progress_->setVisible(busy);
  for (QAction* a : result_actions_) a->setEnabled(result_.has_value());
  if (!document_.valid())
    status_->setText(tr("Scenario invalid: fix the field named in red to run."));
  else if (busy)
    status_->setText(tr("Running…"));
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
  update_run_state();
  setWindowTitle(tr("clustercost — %1").arg(path));
  if (!document_.valid()) {
    last_error_ = qs(document_.error());
    return false;
  }
  last_error_.clear();
  status_->setText(tr("Loaded %1").arg(path));
  return true;
}

bool MainWindow::run_blocking() {
  if (!document_.valid()) {
    last_error_ = qs(document_.error());
    return false;
  }
  RunOutput out = compute_run(document_.catalog(), document_.dirs(), document_.file(),
                              document_.json(), *document_.scenario());
  const bool ok = out.report.has_value();
  show_output(std::move(out));
  return ok;
}

void MainWindow::start_run() {
  if (!document_.valid() || running()) return;
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
    auto out = std::make_shared<RunOutput>(
        compute_run(*catalog, dirs, file, doc, scenario, cancel.get()));
    if (self)
      QMetaObject::invokeMethod(
          self, [self, generation, out] { if (self) self->finish_async(generation, out); },
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
  if (!running()) return;
  // The analytical step cannot be interrupted mid-way; cancelling discards its result when it
  // arrives and stops the scaling sweep between two runs.
  if (cancel_flag_) cancel_flag_->store(true);
  running_generation_ = 0;
  status_->setText(tr("Run cancelled."));
  update_run_state();
  emit run_finished(false);
}

void MainWindow::finish_async(std::uint64_t generation, std::shared_ptr<RunOutput> out) {
  if (generation != running_generation_) return;  // cancelled, or superseded
  running_generation_ = 0;
  show_output(std::move(*out));
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

  std::vector<ChartSeries> days, cost;
  for (const auto& line : out.scaling) {
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
                               days, tr("GPUs (log₂ scale)"), tr("wall time (days)"), true,
                               tr("does not fit in HBM"));
    scaling_cost_->line_series(tr("Cost vs GPU count"), cost, tr("GPUs (log₂ scale)"),
                               tr("cost (million USD)"), true, tr("does not fit in HBM"));
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
          .arg(qs(format_fixed(r.cost.gpu_hour_usd, 2))));

  timeline_->show_timeline(
      out.timeline,
      r.step.fidelity == "des"
          ? QString()
          : tr("The report uses the %1 step model: %2 s per step (the DES gives %3 s).")
                .arg(qs(r.step.fidelity), qs(format_si(r.step.step_time.value)),
                     qs(format_si(out.timeline.step_time_s))));
  traffic_->show_traffic(r.step.moe);
  last_error_.clear();
  status_->setText(tr("Done: %1 s per step, %2 days, $%3")
                       .arg(qs(format_si(r.step.step_time.value)), qs(format_si(r.run.wall_days)),
                            qs(format_si(r.cost.total_usd))));
  update_run_state();
  emit run_finished(true);
}

bool MainWindow::pin_current(const QString& label) {
  if (!result_) return false;
  const auto& s = result_->scenario;
  const QString name = label.isEmpty()
                           ? tr("#%1 %2×%3").arg(compare_->pin_count() + 1).arg(s.cluster.gpus)
                                 .arg(qs(s.gpu.name))
                           : label;
  compare_->add_pin(name, *result_);
  return true;
}

bool MainWindow::pin_variant(const QStringList& overrides, const QString& label,
                             QString* error) {
  try {
    Json doc = document_.json();
    for (const QString& o : overrides) apply_override(doc, o.toStdString());
    const Scenario s = document_.parse(doc);
    compare_->add_pin(label.isEmpty() ? overrides.join(", ") : label, run_scenario(s));
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

bool MainWindow::save_scenario(const QString& path, QString* error) {
  return write_text(path, document_.json().dump(2) + "\n", error);
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
  // Atomic like every file the tool writes: QSaveFile writes a temporary file beside `path` and
  // renames it over `path` on commit(); a crash or kill before that leaves the old file intact.
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly)) {
    if (error) *error = tr("%1: cannot write the PDF: %2").arg(path, file.errorString());
    return false;
  }
  QPdfWriter writer(&file);
  writer.setResolution(300);
  writer.setPageSize(QPageSize(QPageSize::A4));
  writer.setPageOrientation(QPageLayout::Landscape);
  writer.setPageMargins(QMarginsF(12, 12, 12, 12), QPageLayout::Millimeter);
  writer.setTitle(tr("clustercost report: %1").arg(qs(result_->scenario.name)));
  writer.setCreator("clustercost-gui");
  QPainter painter;
  if (!painter.begin(&writer)) {
    if (error) *error = tr("%1: cannot write the PDF").arg(path);
    return false;
  }
  const QRectF page(QPointF(0, 0), QSizeF(writer.width(), writer.height()));

  // Page 1..n: the text summary, long lines wrapped, a new page when one is full.
  QFont mono = QFontDatabase::systemFont(QFontDatabase::FixedFont);
  mono.setPointSizeF(9);
  painter.setFont(mono);
  double y = 0;
  for (const QString& line : qs(report_to_text(*result_)).split('\n')) {
    const QString text = line.isEmpty() ? QStringLiteral(" ") : line;
    const QRectF need = painter.boundingRect(QRectF(0, 0, page.width(), page.height()),
                                             Qt::TextWordWrap, text);
    if (y > 0 && y + need.height() > page.height()) {
      writer.newPage();
      y = 0;
    }
    painter.drawText(QRectF(0, y, page.width(), need.height()), Qt::TextWordWrap, text);
    y += need.height();
  }
  // Chart pages, rendered from the same chart objects the tabs show.
  writer.newPage();
  breakdown_->render_to(painter, page);
  writer.newPage();
  memory_->render_to(painter, page);
  writer.newPage();
  scaling_days_->render_to(painter, page);
  writer.newPage();
  scaling_cost_->render_to(painter, page);
  if (timeline_->scene() && timeline_->block_count() > 0) {
    writer.newPage();
    // The labels ignore transformations (they keep their size when zooming), so the scene is
    // drawn 1:1 into an image first and the image is scaled onto the page.
    const QRectF src = timeline_->sceneRect();
    QImage image(src.size().toSize() * 2, QImage::Format_ARGB32);
    image.setDevicePixelRatio(2.0);
    image.fill(Qt::white);
    {
      QPainter ip(&image);
      ip.setRenderHint(QPainter::Antialiasing);
      timeline_->scene()->render(&ip, QRectF(QPointF(0, 0), src.size()), src);
    }
    QRectF dst = page;
    if (src.width() > 0)
      dst.setHeight(std::min(page.height(), page.width() * src.height() / src.width()));
    painter.drawImage(dst, image);
  }
  if (compare_->pin_count() >= 2) {
    writer.newPage();
    compare_->chart()->render_to(painter, page);
  }
  painter.end();  // the PDF is complete in `file` once the painter ends
  if (!file.commit()) {
    if (error) *error = tr("%1: cannot write the PDF: %2").arg(path, file.errorString());
    return false;
  }
  return true;
}

void MainWindow::on_open() {
  const QString path = QFileDialog::getOpenFileName(
      this, tr("Open scenario"), qs(document_.dirs().scenarios().string()),
      tr("Scenario JSON (*.json)"));
  if (path.isEmpty()) return;
  // An invalid scenario is shown in the panel (red line); an unreadable file gets a dialog.
  if (!open_scenario(path) && qs(document_.file()) != path)
    QMessageBox::warning(this, tr("Open scenario"), last_error_);
}

void MainWindow::on_save() {
  const QString path = QFileDialog::getSaveFileName(this, tr("Save scenario"), QString(),
                                                    tr("Scenario JSON (*.json)"));
  if (path.isEmpty()) return;
  QString error;
  if (!save_scenario(path, &error)) QMessageBox::warning(this, tr("Save scenario"), error);
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
