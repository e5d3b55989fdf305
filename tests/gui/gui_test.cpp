// Offscreen tests of the what-if window: the charts and cards show the library's numbers for
// every shipped scenario, invalid input keeps Run disabled with the loader's message, pins
// compare, exports write real files.

#include <gtest/gtest.h>

#include <cstdio>

#include <QApplication>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFile>
#include <QKeyEvent>
#include <QMessageBox>
#include <QPushButton>
#include <QStatusBar>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QWheelEvent>

#include <climits>
#include <cmath>
#include <filesystem>
#include <set>

#include "gui/analysis.hpp"
#include "gui/main_window.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/report/report.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/workload/des_step.hpp"

namespace clustercost {
namespace {

// gtest_main owns main(), so the QApplication lives in a global test environment.
class QtEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    qputenv("QT_QPA_PLATFORM", "offscreen");
    static int argc = 1;
    static char name[] = "test_gui";
    static char* argv[] = {name, nullptr};
    app_ = std::make_unique<QApplication>(argc, argv);
  }
  void TearDown() override { app_.reset(); }

 private:
  std::unique_ptr<QApplication> app_;
};
[[maybe_unused]] ::testing::Environment* const kQtEnv =
    ::testing::AddGlobalTestEnvironment(new QtEnvironment);

DataDirs test_dirs() { return default_data_dirs(); }

std::vector<std::filesystem::path> shipped_scenarios() {
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(test_dirs().scenarios()))
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

// The library's report for a file, computed without the GUI.
Json reference_report(const std::filesystem::path& file,
                      const std::vector<std::string>& overrides = {}) {
  const DataDirs dirs = test_dirs();
  const Catalog catalog = Catalog::load(dirs.catalog());
  return report_to_json(run_scenario(load_scenario(file, overrides, catalog, dirs)));
}

// report_to_json rounds to 6 significant digits.
void expect_close6(double shown, double reported, const std::string& what) {
  EXPECT_NEAR(shown, reported, 1e-5 * std::fabs(reported) + 1e-12) << what;
}

// The number at the start of a card ("$5.576 M", "57.29 days", "39.21 %"), with its suffix.
double card_number(const QString& text) {
  static const QRegularExpression re(R"(^\$?(-?[0-9.]+(?:e[-+]?[0-9]+)?)\s*([KMBTP])?\b)");
  const auto m = re.match(text.trimmed());
  if (!m.hasMatch()) return std::nan("");
  double v = m.captured(1).toDouble();
  const QString s = m.captured(2);
  const double scale = s == "K" ? 1e3 : s == "M" ? 1e6 : s == "B" ? 1e9 : s == "T" ? 1e12
                       : s == "P" ? 1e15 : 1.0;
  return v * scale;
}

const ChartSeries* find_series(const ChartAdapter* chart, const QString& name) {
  for (const auto& s : chart->series())
    if (s.name == name) return &s;
  return nullptr;
}

TEST(GuiScenarios, ChartsAndCardsShowTheLibraryNumbers) {
  const auto files = shipped_scenarios();
  ASSERT_GE(files.size(), 1u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    MainWindow w(test_dirs());
    ASSERT_TRUE(w.open_scenario(QString::fromStdString(file.string()))) << w.last_error().toStdString();
    EXPECT_TRUE(w.run_button()->isEnabled());
    ASSERT_TRUE(w.run_blocking()) << w.last_error().toStdString();
    ASSERT_NE(w.result(), nullptr);
    const Json j = reference_report(file);

    // Breakdown: category 0 is the critical rank, whose parts are the report's breakdown_s.
    const std::pair<const char*, const char*> parts[] = {
        {"compute", "compute"},
        {"exposed TP comm", "exposed_tp_comm"},
        {"exposed EP comm", "exposed_ep_comm"},
        {"exposed PP comm", "exposed_pp_comm"},
        {"exposed DP comm", "exposed_dp_comm"},
        {"pipeline bubble", "bubble"},
        {"optimizer", "optimizer"}};
    ASSERT_EQ(w.breakdown_chart()->series().size(), 7u);
    double stacked = 0;
    for (const auto& [name, key] : parts) {
      const ChartSeries* s = find_series(w.breakdown_chart(), name);
      ASSERT_NE(s, nullptr) << name;
      ASSERT_EQ(s->y.size(), 2u);
      expect_close6(s->y[0], j["step"]["breakdown_s"][key].get<double>(), name);
      expect_close6(s->y[1], j["step"]["mean_breakdown_s"][key].get<double>(), name);
      stacked += s->y[0];
    }
    EXPECT_NEAR(stacked, j["step"]["time_s"].get<double>(),
                1e-4 * j["step"]["time_s"].get<double>());
    EXPECT_TRUE(w.breakdown_chart()->value_axis_title().contains("(s)"));

    // Memory bars and the HBM line.
    for (const char* key : {"weights", "gradients", "optimizer", "activations"}) {
      const ChartSeries* s = find_series(w.memory_chart(), key);
      ASSERT_NE(s, nullptr) << key;
      expect_close6(s->y.at(0), j["memory"]["breakdown_gib"][key].get<double>(), key);
    }
    const auto& mem_series = w.memory_chart()->series();
    ASSERT_EQ(mem_series.size(), 5u);
    EXPECT_TRUE(mem_series.back().name.startsWith("HBM capacity"));
    expect_close6(mem_series.back().y.at(0), j["memory"]["capacity_gib"].get<double>(), "hbm");
    EXPECT_TRUE(w.memory_chart()->value_axis_title().contains("GiB"));

    // Summary cards (4 significant digits shown).
    auto card = [&](const char* key) { return card_number(w.summary()->card_value(key)); };
    EXPECT_NEAR(card("wall_days"), j["run"]["wall_days"].get<double>(),
                6e-4 * j["run"]["wall_days"].get<double>());
    EXPECT_NEAR(card("gpu_hours"), j["run"]["gpu_hours"].get<double>(),
                6e-4 * j["run"]["gpu_hours"].get<double>());
    EXPECT_NEAR(card("cost"), j["cost"]["total_usd"].get<double>(),
                6e-4 * j["cost"]["total_usd"].get<double>());
    EXPECT_NEAR(card("mfu"), 100 * j["step"]["mfu"].get<double>(), 0.0051);
    EXPECT_NEAR(card("tokens_per_s_per_gpu"), j["step"]["tokens_per_s_per_gpu"].get<double>(),
                6e-4 * j["step"]["tokens_per_s_per_gpu"].get<double>());
    EXPECT_NEAR(card("memory"), j["memory"]["peak_gib_per_gpu"].get<double>(), 0.051);
    EXPECT_EQ(w.summary()->card_detail("memory").startsWith("fits"),
              j["memory"]["fits"].get<bool>());
    // Campaign spread: the wall-time card shows the report's P50 when the run has replicas.
    if (j["run"]["replicas"].get<int>() > 0) {
      char p50[32];
      std::snprintf(p50, sizeof p50, "P50 %.1f",
                    j["run"]["distribution"]["wall_days"]["p50"].get<double>());
      EXPECT_TRUE(w.summary()->card_detail("wall_days").contains(p50))
          << w.summary()->card_detail("wall_days").toStdString();
    }

    // Scaling: the points run the analytical model (kScalingFidelity), so the scenario's own
    // GPU at its own count is the scenario's analytical report, and the note says so next to
    // the summary's step.
    ASSERT_FALSE(w.scaling_pending());
    const Json ja = reference_report(file, {"simulation.fidelity=analytical"});
    const QString note = w.scaling_note()->text();
    EXPECT_TRUE(note.contains("analytical step model")) << note.toStdString();
    if (j["step"]["fidelity"] == "des") {
      EXPECT_TRUE(note.contains(QString("this scenario's des step is %1 s")
                                    .arg(QString::fromStdString(format_si(j["step"]["time_s"].get<double>())))))
          << note.toStdString();
      EXPECT_TRUE(note.contains(QString("gives %1 s per step")
                                    .arg(QString::fromStdString(format_si(ja["step"]["time_s"].get<double>())))))
          << note.toStdString();
    }
    const std::string gpu = j["scenario"]["cluster"]["gpu"].get<std::string>();
    const double gpus = j["scenario"]["cluster"]["gpus"].get<double>();
    const ChartSeries* line = find_series(w.scaling_days_chart(), QString::fromStdString(gpu));
    {
      ASSERT_NE(line, nullptr);
      bool found = false;
      for (std::size_t k = 0; k < line->x.size(); ++k) {
        if (line->x[k] == gpus) {
          found = true;
          expect_close6(line->y[k], ja["run"]["wall_days"].get<double>(), "scaling wall days");
          ASSERT_EQ(line->flagged.size(), line->x.size());
          EXPECT_EQ(line->flagged[k], !ja["memory"]["fits"].get<bool>());
        }
      }
      const ChartSeries* cost_line =
          find_series(w.scaling_cost_chart(), QString::fromStdString(gpu));
      ASSERT_NE(cost_line, nullptr);
      for (std::size_t k = 0; k < cost_line->x.size(); ++k)
        if (cost_line->x[k] == gpus)
          expect_close6(cost_line->y[k] * 1e6, ja["cost"]["total_usd"].get<double>(), "cost");
      EXPECT_TRUE(found);
      EXPECT_TRUE(w.scaling_days_chart()->x_axis_title().contains("GPUs"));
      EXPECT_TRUE(w.scaling_cost_chart()->value_axis_title().contains("USD"));
    }

    // Traffic heatmap: the report's `moe` section (null for dense models or ep = 1) and the
    // map's rank count and hottest link agree; the map holds the dispatch bytes of a layer.
    if (j["moe"].is_null()) {
      EXPECT_EQ(w.traffic()->ranks(), 0);
    } else {
      EXPECT_EQ(w.traffic()->ranks(), j["moe"]["ep"].get<int>());
      EXPECT_GT(w.traffic()->max_bytes(), 0);
      EXPECT_TRUE(w.traffic()->caption().contains(
          QString::fromStdString(j["moe"]["hottest_link"].get<std::string>())));
      double total = 0;
      for (int a = 0; a < w.traffic()->ranks(); ++a)
        for (int b = 0; b < w.traffic()->ranks(); ++b) total += w.traffic()->cell_bytes(a, b);
      // Every rank sends mean_rank_tokens copies on average: bytes ≈ copies × token bytes.
      EXPECT_GT(total, j["moe"]["mean_rank_tokens"].get<double>() * w.traffic()->ranks() * 1000.0);
    }
    // Timeline: the op-level DES of the same scenario, run here without the GUI, drawn block
    // for block (every task record of the drawn GPUs), its last block ending at the DES step
    // time; hovering a block names its op as the op program does.
    {
      const DataDirs dirs = test_dirs();
      const Catalog catalog = Catalog::load(dirs.catalog());
      const Scenario sc = load_scenario(file, {}, catalog, dirs);
      DesOptions options;
      options.record_tasks = true;
      const DesStep des = simulate_step_des_detailed(sc, options);
      const int pp = sc.parallelism.pp;
      const std::vector<TimelineGpu> drawn_gpus =
          timeline_gpus(des.run.gpus, des.run.gpu_stage, des.stage_gpu);
      std::set<int> drawn;
      for (const auto& g : drawn_gpus) drawn.insert(g.gpu);
      std::size_t expected = 0;
      for (const auto& rec : des.run.task_records)
        expected += drawn.count(rec.gpu >= 0 ? rec.gpu : des.stage_gpu.at(static_cast<std::size_t>(rec.stage)));
      const TimelineView* view = w.timeline();
      EXPECT_EQ(view->timeline().stages, pp);
      EXPECT_EQ(view->timeline().gpus.size(), drawn_gpus.size());
      EXPECT_EQ(view->timeline().simulated_gpus, static_cast<std::int64_t>(des.run.gpus.size()));
      EXPECT_EQ(view->timeline().total_tasks, des.run.task_records.size());
      ASSERT_GT(expected, 0u);
      EXPECT_EQ(static_cast<std::size_t>(view->block_count()), expected);
      EXPECT_GE(view->row_count(), static_cast<int>(drawn_gpus.size()));
      EXPECT_NEAR(view->right_edge_s(), des.result.step_time.value, 1e-6);
      EXPECT_TRUE(view->caption().contains("Op-level discrete-event simulation"));
      EXPECT_EQ(view->caption().contains("step model"), j["step"]["fidelity"] != "des");
      // The longest named op of the first drawn GPU: the hover text has its name, micro-batch
      // and duration.
      const auto& tasks = view->timeline().tasks;
      std::size_t longest = tasks.size();
      for (std::size_t k = 0; k < tasks.size(); ++k)
        if (tasks[k].name >= 0 && tasks[k].micro_batch >= 0 &&
            (longest == tasks.size() ||
             tasks[k].end - tasks[k].start > tasks[longest].end - tasks[longest].start))
          longest = k;
      ASSERT_LT(longest, tasks.size());
      EXPECT_EQ(view->task_at(view->task_center(longest)), static_cast<std::int64_t>(longest));
      const QString hover = view->describe(longest);
      EXPECT_TRUE(hover.contains(QString::fromStdString(view->timeline().op_name(tasks[longest]))))
          << hover.toStdString();
      EXPECT_TRUE(hover.contains(QString("micro-batch %1").arg(tasks[longest].micro_batch)));
      EXPECT_TRUE(hover.contains("duration")) << hover.toStdString();
      if (pp > 16) {
        EXPECT_LT(expected, des.run.task_records.size());
      }
    }

    // DES results: the critical path by category adds up to the step time and matches the
    // report; the link table has every link of the report, hottest (peak utilisation) first;
    // one bar per simulated GPU's peak memory.
    if (j["step"]["fidelity"] == "des") {
      const Json& sim = j["step"]["simulation"];
      double path = 0;
      const QStringList& categories = w.critical_path_chart()->categories();
      ASSERT_EQ(w.critical_path_chart()->series().size(), 1u);
      const auto& bars = w.critical_path_chart()->series().front().y;
      ASSERT_EQ(static_cast<std::size_t>(categories.size()), sim["critical_path_s"].size());
      ASSERT_EQ(bars.size(), sim["critical_path_s"].size());
      for (const auto& [category, seconds] : sim["critical_path_s"].items()) {
        const auto at = categories.indexOf(QString::fromStdString(category));
        ASSERT_GE(at, 0) << category;
        expect_close6(bars[static_cast<std::size_t>(at)], seconds.get<double>(), category);
        EXPECT_TRUE(w.critical_path_note()->text().contains(QString::fromStdString(category) + " "));
        path += seconds.get<double>();
      }
      // Most time first.
      for (std::size_t k = 1; k < bars.size(); ++k) EXPECT_GE(bars[k - 1], bars[k]);
      EXPECT_NEAR(path, j["step"]["time_s"].get<double>(), 1e-4 * j["step"]["time_s"].get<double>());

      const LinkTableModel* links = w.links()->model();
      ASSERT_EQ(static_cast<std::size_t>(links->rowCount()), sim["links"].size());
      std::set<std::string> names;
      double top_peak = 0;
      for (const auto& l : sim["links"]) {
        names.insert(l["link"].get<std::string>());
        top_peak = std::max(top_peak, l["peak_utilisation"].get<double>());
      }
      for (int row = 0; row < links->rowCount(); ++row) {
        EXPECT_EQ(names.count(links->data(links->index(row, LinkTableModel::kLink)).toString().toStdString()), 1u);
        if (row > 0) {
          EXPECT_GE(links->data(links->index(row - 1, LinkTableModel::kPeak), Qt::UserRole).toDouble(),
                    links->data(links->index(row, LinkTableModel::kPeak), Qt::UserRole).toDouble());
        }
      }
      if (links->rowCount() > 0) {
        expect_close6(links->data(links->index(0, LinkTableModel::kPeak), Qt::UserRole).toDouble(),
                      top_peak, "hottest link peak");
        EXPECT_TRUE(w.links()->caption().contains(
            "Hottest link: " + links->data(links->index(0, LinkTableModel::kLink)).toString()));
      }

      const auto& mem = sim["gpu_peak_memory"];
      if (mem.size() <= 32) {
        EXPECT_EQ(static_cast<std::size_t>(w.gpu_memory_chart()->categories().size()), mem.size());
        const auto& stacks = w.gpu_memory_chart()->series();
        ASSERT_EQ(stacks.size(), 3u);  // static, activations, HBM line
        for (std::size_t k = 0; k < mem.size(); ++k)
          expect_close6(stacks[0].y.at(k) + stacks[1].y.at(k), mem[k]["peak_gib"].get<double>(),
                        "gpu peak");
      }
    }

    for (const auto& tab : w.tab_names()) EXPECT_TRUE(w.show_tab(tab));
    EXPECT_FALSE(w.show_tab("nope"));
  }
}

std::string h800_file() { return (test_dirs().scenarios() / "deepseek-v3-h800.json").string(); }

TEST(GuiValidation, InvalidTpKeepsRunDisabledWithTheLoadersPath) {
  MainWindow w(test_dirs());
  ASSERT_TRUE(w.open_scenario(QString::fromStdString(h800_file())));
  auto* tp = qobject_cast<QSpinBox*>(w.panel()->field("parallelism.tp"));
  ASSERT_NE(tp, nullptr);
  EXPECT_EQ(tp->value(), 1);
  tp->setValue(3);
  EXPECT_FALSE(w.run_button()->isEnabled());
  EXPECT_TRUE(w.panel()->error_label()->text().contains("parallelism.tp"))
      << w.panel()->error_label()->text().toStdString();
  EXPECT_EQ(w.document().json()["parallelism"]["tp"], 3);
  tp->setValue(1);
  EXPECT_TRUE(w.run_button()->isEnabled());
  EXPECT_TRUE(w.panel()->error_label()->text().isEmpty());

  // Text that is not a number: the loader names the path; clearing a required key too.
  auto* tokens = qobject_cast<QLineEdit*>(w.panel()->field("training.tokens"));
  ASSERT_NE(tokens, nullptr);
  tokens->setText("lots");
  EXPECT_FALSE(w.run_button()->isEnabled());
  EXPECT_TRUE(w.panel()->error_label()->text().contains("training.tokens"));
  tokens->setText("1e12");
  EXPECT_TRUE(w.run_button()->isEnabled());
  EXPECT_DOUBLE_EQ(w.document().scenario()->training.tokens, 1e12);
}

TEST(GuiValidation, NoFieldValueCrashes) {
  MainWindow w(test_dirs());
  ASSERT_TRUE(w.open_scenario(QString::fromStdString(h800_file())));
  for (const QString& path : w.panel()->paths()) {
    QWidget* f = w.panel()->field(path);
    ASSERT_NE(f, nullptr);
    if (auto* spin = qobject_cast<QSpinBox*>(f)) {
      const int old = spin->value();
      for (int v : {0, 7, INT_MAX}) spin->setValue(v);
      spin->setValue(old);
    } else if (auto* combo = qobject_cast<QComboBox*>(f)) {
      const int old = combo->currentIndex();
      for (int i = 0; i < combo->count(); ++i) combo->setCurrentIndex(i);
      combo->setCurrentIndex(old);
    } else if (auto* edit = qobject_cast<QLineEdit*>(f)) {
      const QString old = edit->text();
      for (const char* t : {"", "-1", "{", "[1,2]", "1e400", "\"x\""}) edit->setText(t);
      edit->setText(old);
    }
    EXPECT_TRUE(w.document().valid()) << path.toStdString() << ": " << w.document().error();
  }
  EXPECT_TRUE(w.run_button()->isEnabled());
}

TEST(GuiValidation, UnreadableFileIsReported) {
  MainWindow w(test_dirs());
  QTemporaryDir tmp;
  const QString bad = tmp.filePath("bad.json");
  QFile f(bad);
  ASSERT_TRUE(f.open(QIODevice::WriteOnly));
  f.write("{ \"name\": ");
  f.close();
  const Json before = w.document().json();
  EXPECT_FALSE(w.open_scenario(bad));
  EXPECT_TRUE(w.last_error().contains("bad.json"));
  // The document in the window (the runnable default) is kept as it was.
  EXPECT_EQ(w.document().json(), before);
  EXPECT_TRUE(w.run_button()->isEnabled());
}

TEST(GuiCompare, TwoPinsGiveDeltas) {
  MainWindow w(test_dirs());
  ASSERT_TRUE(w.open_scenario(QString::fromStdString(h800_file())));
  EXPECT_FALSE(w.pin_current());  // nothing to pin yet
  ASSERT_TRUE(w.run_blocking());
  ASSERT_TRUE(w.pin_current("base"));
  QString error;
  ASSERT_TRUE(w.pin_variant({"cluster.gpus=4096"}, "x2", &error)) << error.toStdString();
  ASSERT_EQ(w.compare()->pin_count(), 2);
  // Row 0 is the GPU count: twice the GPUs is +100 %.
  EXPECT_NEAR(w.compare()->delta(0, 1), 100.0, 1e-9);
  EXPECT_NEAR(w.compare()->delta(0, 0), 0.0, 1e-12);
  const auto metrics = key_metrics(*w.result());
  for (std::size_t r = 0; r < metrics.size(); ++r) {
    if (metrics[r].name == "wall time") {
      EXPECT_LT(w.compare()->delta(static_cast<int>(r), 1), 0);
    }
  }
  // Rows 0 and 1 are the layout and the memory; the metrics follow.
  EXPECT_TRUE(w.compare()->table()->item(2, 1)->text().contains("+100.0 %"));
  ASSERT_EQ(w.compare()->chart()->series().size(), 2u);
  EXPECT_NEAR(w.compare()->chart()->series()[0].y.at(0), 100.0, 1e-9);  // base = 100 %
  // A variant the loader rejects is not pinned, and says why.
  EXPECT_FALSE(w.pin_variant({"parallelism.tp=3"}, "bad", &error));
  EXPECT_TRUE(error.contains("parallelism.tp")) << error.toStdString();
  EXPECT_EQ(w.compare()->pin_count(), 2);
  // The same result twice is one pin; more variants are more columns.
  EXPECT_FALSE(w.pin_current());
  EXPECT_FALSE(w.pin_variant({"cluster.gpus=4096"}, "again", &error));
  for (const char* v : {"cluster.gpus=1024", "parallelism.pp=8", "parallelism.ep=32"})
    ASSERT_TRUE(w.pin_variant({v}, QString(), &error)) << v << ": " << error.toStdString();
  EXPECT_EQ(w.compare()->pin_count(), 5);
  EXPECT_EQ(w.compare()->table()->columnCount(), 5);
}

int count_pdf_pages(const QByteArray& pdf) {
  static const QRegularExpression re(R"(/Type\s*/Page(?![s\w]))");
  int n = 0;
  for (auto it = re.globalMatch(pdf); it.hasNext(); it.next()) ++n;
  return n;
}

TEST(GuiExport, PdfHtmlCsvAndScenario) {
  MainWindow w(test_dirs());
  ASSERT_TRUE(w.open_scenario(QString::fromStdString(h800_file())));
  QTemporaryDir tmp;
  QString error;
  EXPECT_FALSE(w.export_pdf(tmp.filePath("early.pdf"), &error));  // no result yet
  ASSERT_TRUE(w.run_blocking());

  const QString pdf = tmp.filePath("report.pdf");
  ASSERT_TRUE(w.export_pdf(pdf, &error)) << error.toStdString();
  QFile f(pdf);
  ASSERT_TRUE(f.open(QIODevice::ReadOnly));
  const QByteArray bytes = f.readAll();
  EXPECT_TRUE(bytes.startsWith("%PDF"));
  EXPECT_GE(count_pdf_pages(bytes), 2);

  const QString html = tmp.filePath("report.html");
  ASSERT_TRUE(w.export_html(html, &error));
  QFile h(html);
  ASSERT_TRUE(h.open(QIODevice::ReadOnly));
  EXPECT_EQ(h.readAll().toStdString(), report_to_html(*w.result()));

  const QString csv = tmp.filePath("report.csv");
  ASSERT_TRUE(w.export_csv(csv, &error));
  QFile c(csv);
  ASSERT_TRUE(c.open(QIODevice::ReadOnly));
  const QString first = QString::fromUtf8(c.readLine()).trimmed();
  EXPECT_TRUE(first.startsWith("name,model,gpu"));

  // The saved scenario loads back to the same resolved scenario.
  auto* gpus = qobject_cast<QSpinBox*>(w.panel()->field("cluster.gpus"));
  gpus->setValue(1024);
  const QString saved = tmp.filePath("saved.json");
  ASSERT_TRUE(w.save_scenario(saved, &error));
  MainWindow w2(test_dirs());
  ASSERT_TRUE(w2.open_scenario(saved)) << w2.last_error().toStdString();
  EXPECT_EQ(w2.document().scenario()->cluster.gpus, 1024);
  EXPECT_EQ(qobject_cast<QSpinBox*>(w2.panel()->field("cluster.gpus"))->value(), 1024);
}

// Processes events until `done` or the deadline.
template <class F>
bool wait_for(F done, int ms) {
  QElapsedTimer t;
  t.start();
  while (!done() && t.elapsed() < ms) QApplication::processEvents(QEventLoop::AllEvents, 20);
  return done();
}

TEST(GuiRun, WorkerThreadRunAndCancel) {
  MainWindow w(test_dirs());
  ASSERT_TRUE(w.open_scenario(QString::fromStdString(h800_file())));
  w.start_run();
  EXPECT_TRUE(w.running());
  EXPECT_FALSE(w.run_button()->isEnabled());
  EXPECT_TRUE(w.cancel_button()->isEnabled());
  // A liveness bound, not a speed check: the first phase is one DES run of DeepSeek-V3 (report
  // and timeline), a few seconds on a loaded 2-core machine.
  ASSERT_TRUE(wait_for([&] { return !w.running(); }, 180000));
  ASSERT_NE(w.result(), nullptr);
  EXPECT_TRUE(w.run_button()->isEnabled());
  const double days = w.result()->run.wall_days;

  // Cancel: the late result is ignored.
  auto* gpus = qobject_cast<QSpinBox*>(w.panel()->field("cluster.gpus"));
  gpus->setValue(4096);
  w.start_run();
  w.cancel_run();
  EXPECT_FALSE(w.running());
  EXPECT_TRUE(w.run_button()->isEnabled());
  wait_for([] { return false; }, 300);  // let the worker deliver (and be ignored)
  EXPECT_EQ(w.result()->run.wall_days, days);
}

// The step result is shown as soon as the scenario's own simulation is done: when run_finished
// arrives the summary and the other tabs are filled while the scaling tab says "computing…";
// the scaling chart fills afterwards (scaling_finished(true)).
TEST(GuiRun, ResultIsShownBeforeTheScalingSweepWhichFillsAfterwards) {
  for (const char* name : {"deepseek-v3-h800.json", "llama3-70b-h100.json"}) {
    SCOPED_TRACE(name);
    MainWindow w(test_dirs());
    ASSERT_TRUE(w.open_scenario(QString::fromStdString((test_dirs().scenarios() / name).string())));
    bool shown = false, pending_when_shown = false, computing_shown = false, summary_filled = false;
    int scaling_done = 0, scaling_ok = 0;
    qint64 shown_ms = -1, scaling_ms = -1;
    QElapsedTimer clock;
    QObject::connect(&w, &MainWindow::run_finished, &w, [&](bool ok) {
      shown = ok;
      shown_ms = clock.elapsed();
      pending_when_shown = w.scaling_pending();
      computing_shown = w.scaling_days_chart()->series().empty() &&
                        w.scaling_days_chart()->title().contains("computing");
      summary_filled = w.result() != nullptr && !w.summary()->card_value("wall_days").isEmpty() &&
                       !w.breakdown_chart()->series().empty() &&
                       !w.critical_path_chart()->series().empty();
    });
    QObject::connect(&w, &MainWindow::scaling_finished, &w, [&](bool ok) {
      ++scaling_done;
      scaling_ok += ok;
      scaling_ms = clock.elapsed();
    });
    clock.start();
    w.start_run();
    ASSERT_TRUE(wait_for([&] { return scaling_done > 0; }, 300000));
    EXPECT_TRUE(shown);
    EXPECT_TRUE(pending_when_shown);
    EXPECT_TRUE(computing_shown);
    EXPECT_TRUE(summary_filled);
    EXPECT_EQ(scaling_ok, 1);
    EXPECT_FALSE(w.scaling_pending());
    EXPECT_FALSE(w.scaling_days_chart()->series().empty());
    EXPECT_FALSE(w.scaling_cost_chart()->series().empty());
    EXPECT_FALSE(w.cancel_button()->isEnabled());
    EXPECT_LE(shown_ms, scaling_ms);
    // The two phases' times, for the record (the result is not held back by the sweep).
    std::printf("[ timing ] %s: result shown after %lld ms, scaling chart after %lld ms\n", name,
                static_cast<long long>(shown_ms), static_cast<long long>(scaling_ms));
  }
}

// Cancel while only the sweep runs: the result stays, the scaling tab says it was cancelled and
// the sweep's late result is ignored. A new Run during a sweep cancels that sweep.
TEST(GuiRun, CancelAndNewRunStopTheScalingSweep) {
  MainWindow w(test_dirs());
  ASSERT_TRUE(w.open_scenario(QString::fromStdString(
      (test_dirs().scenarios() / "llama3-70b-h100.json").string())));
  std::vector<bool> scaling;
  QObject::connect(&w, &MainWindow::scaling_finished, &w, [&](bool ok) { scaling.push_back(ok); });
  bool cancelled_in_sweep = false;
  auto once = std::make_shared<QMetaObject::Connection>();
  *once = QObject::connect(&w, &MainWindow::run_finished, &w, [&, once](bool ok) {
    QObject::disconnect(*once);
    // The sweep has just started on the worker: Cancel is on for it, and so is Run.
    cancelled_in_sweep = ok && w.scaling_pending() && w.cancel_button()->isEnabled() &&
                         w.run_button()->isEnabled();
    w.cancel_run();
  });
  w.start_run();
  ASSERT_TRUE(wait_for([&] { return !scaling.empty(); }, 300000));
  EXPECT_TRUE(cancelled_in_sweep);
  EXPECT_EQ(scaling, std::vector<bool>{false});
  ASSERT_NE(w.result(), nullptr);
  EXPECT_FALSE(w.scaling_pending());
  EXPECT_FALSE(w.cancel_button()->isEnabled());
  EXPECT_TRUE(w.scaling_days_chart()->series().empty());
  EXPECT_TRUE(w.scaling_days_chart()->title().contains("cancelled"))
      << w.scaling_days_chart()->title().toStdString();
  EXPECT_TRUE(w.status_label()->text().contains("Scaling sweep cancelled"));
  // Long enough for the whole analytical sweep: its late delivery must not fill the tab.
  wait_for([] { return false; }, 5000);
  EXPECT_TRUE(w.scaling_days_chart()->series().empty());
  EXPECT_EQ(scaling.size(), 1u);

  // A new run while a sweep runs: that sweep stops, the new run's sweep fills the tab.
  scaling.clear();
  auto* gpus = qobject_cast<QSpinBox*>(w.panel()->field("cluster.gpus"));
  auto again = std::make_shared<QMetaObject::Connection>();
  *again = QObject::connect(&w, &MainWindow::run_finished, &w, [&, again](bool ok) {
    QObject::disconnect(*again);
    ASSERT_TRUE(ok);
    ASSERT_TRUE(w.scaling_pending());
    gpus->setValue(1024);
    w.start_run();
  });
  w.start_run();
  ASSERT_TRUE(wait_for([&] { return scaling.size() == 2; }, 300000));
  EXPECT_EQ(scaling, (std::vector<bool>{false, true}));
  ASSERT_NE(w.result(), nullptr);
  EXPECT_EQ(w.result()->scenario.cluster.gpus, 1024);
  const ChartSeries* own = find_series(w.scaling_days_chart(), "H100-SXM");
  ASSERT_NE(own, nullptr);
  EXPECT_NE(std::find(own->x.begin(), own->x.end(), 1024.0), own->x.end());
}

// ---- the DES timeline ----------------------------------------------------------------------

TEST(GuiTimeline, StageFilterKeepsBothEndsOfLongPipelines) {
  EXPECT_TRUE(timeline_stages(0).empty());
  EXPECT_EQ(timeline_stages(4), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(timeline_stages(16).size(), 16u);
  const auto s32 = timeline_stages(32);
  ASSERT_EQ(s32.size(), 16u);
  EXPECT_EQ(s32.front(), 0);
  EXPECT_EQ(s32[7], 7);
  EXPECT_EQ(s32[8], 24);
  EXPECT_EQ(s32.back(), 31);
}

TaskRecord task(int stage, StreamLane lane, TaskKind kind, std::int64_t start_ns,
                std::int64_t end_ns, int micro_batch = 0) {
  TaskRecord r;
  r.stage = stage;
  r.lane = lane;
  r.kind = kind;
  r.start = SimTime::nanoseconds(start_ns);
  r.end = SimTime::nanoseconds(end_ns);
  r.micro_batch = micro_batch;
  return r;
}

// Two stages, one micro-batch, with a transfer each way and a DP bucket: 1 µs of ticks each.
PipelineTimeline small_timeline() {
  PipelineTimeline t;
  t.stages = 2;
  t.shown_stages = {0, 1};
  t.schedule = "1f1b";
  t.micro_batches = 1;
  t.tasks = {task(0, StreamLane::Compute, TaskKind::Forward, 0, 1000),
             task(0, StreamLane::SendForward, TaskKind::SendActivation, 1000, 1500),
             task(1, StreamLane::Compute, TaskKind::Forward, 1500, 2500),
             task(1, StreamLane::Compute, TaskKind::Backward, 2500, 4500),
             task(1, StreamLane::SendBackward, TaskKind::SendGradient, 4500, 5000),
             task(0, StreamLane::Compute, TaskKind::Backward, 5000, 7000),
             task(0, StreamLane::DataParallel, TaskKind::DpReduceScatter, 7000, 7600, -1),
             task(0, StreamLane::Compute, TaskKind::Optimizer, 7600, 8000, -1)};
  t.total_tasks = t.tasks.size();
  t.step_time_s = 8e-6;
  return t;
}

TEST(GuiTimeline, BlocksFollowTheTaskRecords) {
  TimelineView view;
  view.resize(800, 400);
  view.show_timeline(small_timeline(), "a note");
  EXPECT_EQ(view.block_count(), 8);
  EXPECT_NEAR(view.right_edge_s(), 8e-6, 1e-12);
  EXPECT_TRUE(view.caption().contains("a note"));
  // Every kind maps to one of the legend's groups.
  for (TaskKind k : {TaskKind::Forward, TaskKind::Backward, TaskKind::BackwardInput,
                     TaskKind::WeightGrad, TaskKind::TpComm, TaskKind::EpComm,
                     TaskKind::Optimizer, TaskKind::SendActivation, TaskKind::SendGradient,
                     TaskKind::DpReduceScatter, TaskKind::DpAllGather})
    EXPECT_NE(task_group(k), "other");
  EXPECT_EQ(task_group(TaskKind::BackwardInput), task_group(TaskKind::Backward));
  // A timeline the DES could not produce shows its reason and no block.
  PipelineTimeline failed;
  failed.error = "out of memory";
  view.show_timeline(failed);
  EXPECT_EQ(view.block_count(), 0);
  EXPECT_EQ(view.right_edge_s(), 0.0);
}

TEST(GuiTimeline, WheelZooms) {
  TimelineView view;
  view.resize(800, 300);
  view.show_timeline(small_timeline());
  EXPECT_DOUBLE_EQ(view.zoom(), 1.0);
  QWheelEvent up(QPointF(100, 50), QPointF(100, 50), QPoint(), QPoint(0, 120), Qt::NoButton,
                 Qt::NoModifier, Qt::NoScrollPhase, false);
  QApplication::sendEvent(view.viewport(), &up);
  EXPECT_NEAR(view.zoom(), 1.25, 1e-12);
  view.zoom_by(0.01);  // never below the fitted view
  EXPECT_DOUBLE_EQ(view.zoom(), 1.0);
}

TEST(GuiTimeline, GpuFilterKeepsEveryGpuUpTo16ElseEachStagesFirst) {
  // 8 GPUs over 4 stages: all of them, by stage then id.
  const std::vector<int> g8 = {0, 1, 2, 3, 4, 5, 6, 7}, s8 = {0, 0, 1, 1, 2, 2, 3, 3};
  const auto all = timeline_gpus(g8, s8, {0, 2, 4, 6});
  ASSERT_EQ(all.size(), 8u);
  EXPECT_EQ(all[3].gpu, 3);
  EXPECT_EQ(all[3].stage, 1);
  // 64 GPUs over 4 stages (16 each, stage GPU = 16 × stage + 5): 4 per stage, the stage's
  // rank-0 GPU among them.
  std::vector<int> g64, s64;
  for (int g = 0; g < 64; ++g) {
    g64.push_back(g);
    s64.push_back(g / 16);
  }
  const auto some = timeline_gpus(g64, s64, {5, 21, 37, 53});
  ASSERT_EQ(some.size(), 16u);
  for (int st = 0; st < 4; ++st) {
    int n = 0;
    bool first = false;
    for (const auto& g : some)
      if (g.stage == st) {
        ++n;
        first = first || g.gpu == 16 * st + 5;
        EXPECT_EQ(g.gpu / 16, st);
      }
    EXPECT_EQ(n, 4);
    EXPECT_TRUE(first) << st;
  }
  // 32 stages of one GPU: the first and last 8 stages.
  std::vector<int> g32, s32, first32;
  for (int g = 0; g < 32; ++g) {
    g32.push_back(g);
    s32.push_back(g);
    first32.push_back(g);
  }
  const auto ends = timeline_gpus(g32, s32, first32);
  ASSERT_EQ(ends.size(), 16u);
  EXPECT_EQ(ends[7].stage, 7);
  EXPECT_EQ(ends[8].stage, 24);
}

// One GPU per stage with op names, as pipeline_timeline makes it.
PipelineTimeline named_timeline() {
  PipelineTimeline t = small_timeline();
  t.gpus = {{0, 0}, {8, 1}};
  t.simulated_gpus = 2;
  t.names = {"layer0.attn.qkv_gemm", "layer0.mlp.fc2_dgrad", "pp.send"};
  for (auto& r : t.tasks) r.gpu = r.stage == 0 ? 0 : 8;
  t.tasks[0].name = 0;
  t.tasks[1].name = 2;
  t.tasks[3].name = 1;
  return t;
}

TEST(GuiTimeline, OneRowGroupPerGpuAndHoverNamesTheOp) {
  TimelineView view;
  view.resize(900, 400);
  view.show_timeline(named_timeline());
  EXPECT_EQ(view.block_count(), 8);
  // GPU 0: compute, send fwd, DP; GPU 8: compute, send bwd.
  EXPECT_EQ(view.row_count(), 5);
  for (std::size_t k = 0; k < view.timeline().tasks.size(); ++k)
    EXPECT_EQ(view.task_at(view.task_center(k)), static_cast<std::int64_t>(k)) << k;
  const QString qkv = view.describe(0);
  EXPECT_TRUE(qkv.contains("layer0.attn.qkv_gemm")) << qkv.toStdString();
  EXPECT_TRUE(qkv.contains("GPU 0, stage 0, compute stream, micro-batch 0"));
  EXPECT_TRUE(qkv.contains("duration 0.001 ms")) << qkv.toStdString();
  const QString dgrad = view.describe(3);
  EXPECT_TRUE(dgrad.contains("layer0.mlp.fc2_dgrad"));
  EXPECT_TRUE(dgrad.contains("GPU 8, stage 1"));
  EXPECT_TRUE(dgrad.contains("duration 0.002 ms"));
  // Outside every row, and in a gap: nothing.
  EXPECT_EQ(view.task_at(QPointF(5, 5)), -1);
  EXPECT_TRUE(view.caption().contains("2 of 2 simulated GPUs drawn"));
}

TEST(GuiTimeline, WindowZoomsToTheGivenSeconds) {
  TimelineView view;
  view.resize(900, 400);
  view.show();
  view.show_timeline(named_timeline());
  // 8 µs step: 2 µs of it fill the view, so the zoom is 4 and GPU 8's backward
  // (2.5–4.5 µs, "layer0.mlp.fc2_dgrad") spans most of it.
  ASSERT_TRUE(view.show_window(2.5e-6, 4.5e-6));
  EXPECT_NEAR(view.zoom(), 4.0, 1e-9);
  const QPointF left = view.mapToScene(QPoint(130, 0));  // right of the label panel
  EXPECT_NEAR((left.x() - 130) / (1200 / 8e-6), 2.5e-6, 0.05e-6);  // kLeft, kWidth per step
  EXPECT_EQ(view.task_at(view.task_center(3)), 3);
  QApplication::processEvents();
  EXPECT_FALSE(view.viewport()->grab().isNull());  // paints the op names of wide blocks
  // Outside the step, or empty: refused.
  EXPECT_FALSE(view.show_window(9e-6, 10e-6));
  EXPECT_FALSE(view.show_window(3e-6, 3e-6));
}

TEST(GuiTimeline, LevelOfDetailBoundsThePaintedRectangles) {
  // 200 000 back-to-back 1 µs ops on one stream: at zoom 1 they span 1 200 scene pixels, so
  // the row paints a few thousand rectangles at most, yet every op is placed and hoverable.
  PipelineTimeline t;
  t.stages = 1;
  t.shown_stages = {0};
  t.gpus = {{0, 0}};
  t.simulated_gpus = 1;
  t.schedule = "1f1b";
  t.micro_batches = 1;
  t.names = {"op"};
  constexpr int kOps = 200000;
  for (int k = 0; k < kOps; ++k) {
    TaskRecord r = task(0, StreamLane::Compute, TaskKind::Forward, 1000LL * k, 1000LL * (k + 1), k % 7);
    r.gpu = 0;
    r.name = 0;
    t.tasks.push_back(r);
  }
  t.total_tasks = t.tasks.size();
  t.step_time_s = kOps * 1e-6;
  TimelineView view;
  view.resize(1000, 300);
  view.show_timeline(t);
  EXPECT_EQ(view.block_count(), kOps);
  view.take_painted_rects();
  const QImage image = view.render_image();
  const std::size_t painted = view.take_painted_rects();
  EXPECT_GT(painted, 0u);
  // The PDF image is 2× the scene width (about 2 700 device pixels).
  EXPECT_LE(painted, static_cast<std::size_t>(2 * image.width()));
  EXPECT_EQ(view.task_at(view.task_center(123456)), 123456);
  EXPECT_NEAR(view.right_edge_s(), t.step_time_s, 1e-12);
}

// ---- the DES's links, critical path and per-GPU memory ----------------------------------------

LinkUse link(const std::string& name, double gb, double peak, double mean) {
  LinkUse l;
  l.name = name;
  l.bytes = Bytes(gb * 1e9);
  l.peak_utilisation = peak;
  l.mean_utilisation = mean;
  return l;
}

TEST(GuiLinks, TableIsSortedByPeakUtilisationWithTheHottestFirstAndNamed) {
  StepResult step;
  step.fidelity = "des";
  step.simulated_gpus = 16;
  // As the DES hands them over: most bytes first.
  step.link_use = {link("gpu 0 → nvswitch 0 (nvlink)", 40.0, 0.50, 0.20),
                   link("nic 3 → leaf 0 (ib)", 12.0, 1.00, 0.31),
                   link("nic 1 → leaf 0 (ib)", 11.0, 1.00, 0.35),
                   link("leaf 0 → spine 1 (ib)", 3.0, 0.25, 0.02)};
  LinkTrafficView view;
  view.show_links(step);
  const LinkTableModel* m = view.model();
  ASSERT_EQ(m->rowCount(), 4);
  EXPECT_EQ(m->columnCount(), 4);
  const auto name = [&](int row) {
    return m->data(m->index(row, LinkTableModel::kLink)).toString().toStdString();
  };
  // Peak first; the two saturated links by mean utilisation.
  EXPECT_EQ(name(0), "nic 1 → leaf 0 (ib)");
  EXPECT_EQ(name(1), "nic 3 → leaf 0 (ib)");
  EXPECT_EQ(name(2), "gpu 0 → nvswitch 0 (nvlink)");
  EXPECT_EQ(name(3), "leaf 0 → spine 1 (ib)");
  EXPECT_EQ(m->data(m->index(0, LinkTableModel::kPeak)).toString(), "100.0 %");
  EXPECT_EQ(m->data(m->index(0, LinkTableModel::kMean)).toString(), "35.0 %");
  EXPECT_EQ(m->data(m->index(2, LinkTableModel::kBytes)).toString(), "40.000");
  EXPECT_DOUBLE_EQ(m->data(m->index(2, LinkTableModel::kBytes), Qt::UserRole).toDouble(), 40e9);
  EXPECT_TRUE(view.caption().contains("Hottest link: nic 1 → leaf 0 (ib), peak 100.0 %"))
      << view.caption().toStdString();
  // The link with the most bytes is another one: named too.
  EXPECT_TRUE(view.caption().contains("Most bytes: gpu 0 → nvswitch 0 (nvlink), 40.00 GB"));
  EXPECT_TRUE(view.caption().contains("4 links"));
  EXPECT_FALSE(view.table()->isHidden());

  // A DES step with no link (one GPU): a message, no rows.
  step.link_use.clear();
  view.show_links(step);
  EXPECT_EQ(m->rowCount(), 0);
  EXPECT_TRUE(view.table()->isHidden());
}

TEST(GuiLinks, AnalyticalResultSaysTheDesResultsNeedTheDes) {
  MainWindow w(test_dirs());
  ASSERT_TRUE(w.open_scenario(QString::fromStdString(
      (test_dirs().scenarios() / "llama3-70b-h100.json").string())));
  ASSERT_TRUE(w.document().set_value("simulation.fidelity", "analytical"));
  ASSERT_TRUE(w.run_blocking()) << w.last_error().toStdString();
  ASSERT_EQ(w.result()->step.fidelity, "analytical");
  EXPECT_EQ(w.links()->model()->rowCount(), 0);
  EXPECT_TRUE(w.links()->table()->isHidden());
  EXPECT_TRUE(w.links()->caption().contains("needs the discrete-event simulation"))
      << w.links()->caption().toStdString();
  EXPECT_TRUE(w.links()->caption().contains("analytical"));
  EXPECT_TRUE(w.critical_path_chart()->series().empty());
  EXPECT_TRUE(w.critical_path_chart()->title().contains("needs the discrete-event simulation"));
  EXPECT_TRUE(w.critical_path_note()->text().isEmpty());
  EXPECT_TRUE(w.gpu_memory_chart()->series().empty());
  EXPECT_TRUE(w.gpu_memory_chart()->title().contains("needs the discrete-event simulation"));
  // The timeline still shows the DES (run for it) and says the report's model differs.
  EXPECT_GT(w.timeline()->block_count(), 0);
  EXPECT_TRUE(w.timeline()->caption().contains("analytical step model"));

  // (The DES side of these views: GuiScenarios, for every shipped scenario.)
}

TEST(GuiFormat, SiAndFixed) {
  EXPECT_EQ(format_si(2788000.0), "2.788 M");
  EXPECT_EQ(format_si(57.2861), "57.29");
  EXPECT_EQ(format_si(5576000.0), "5.576 M");
  EXPECT_EQ(format_si(std::nan("")), "n/a");
  EXPECT_EQ(format_fixed(39.2149, 2), "39.21");
  EXPECT_DOUBLE_EQ(delta_percent(3, 2), 50.0);
  EXPECT_DOUBLE_EQ(delta_percent(3, 0), 0.0);
}

}  // namespace
}  // namespace clustercost

namespace clustercost {
namespace {

// ---- issue 17: what a planner sees ---------------------------------------------------------

template <class F>
bool wait_until(F done, int ms) {
  QElapsedTimer t;
  t.start();
  while (!done() && t.elapsed() < ms) QApplication::processEvents(QEventLoop::AllEvents, 20);
  return done();
}

// The widget lies inside the window's client area and is shown.
bool inside_window(const QWidget* w, const QWidget* window) {
  if (!w->isVisible()) return false;
  const QRect r(w->mapTo(window, QPoint(0, 0)), w->size());
  return window->rect().contains(r);
}

TEST(GuiScreen, WindowFitsSmallScreensWithRunAndStatusVisible) {
  for (const QRect screen : {QRect(0, 0, 1366, 768), QRect(0, 0, 1024, 700)}) {
    SCOPED_TRACE(std::to_string(screen.width()) + "x" + std::to_string(screen.height()));
    MainWindow w(test_dirs());
    ASSERT_TRUE(w.run_blocking()) << w.last_error().toStdString();
    w.fit_to_screen(screen);
    w.show();
    QApplication::processEvents();
    // Every tab must fit: the window's minimum size is that of its largest page.
    for (const auto& tab : w.tab_names()) {
      ASSERT_TRUE(w.show_tab(tab));
      QApplication::processEvents();
      EXPECT_LE(w.minimumSizeHint().width(), screen.width()) << tab.toStdString();
      EXPECT_LE(w.minimumSizeHint().height(), screen.height()) << tab.toStdString();
    }
    EXPECT_LE(w.width(), screen.width());
    EXPECT_LE(w.height(), screen.height());
    EXPECT_TRUE(screen.contains(w.geometry()));
    for (const QWidget* b : {static_cast<QWidget*>(w.run_button()), static_cast<QWidget*>(w.cancel_button()),
                             static_cast<QWidget*>(w.pin_button()), static_cast<QWidget*>(w.statusBar()),
                             static_cast<QWidget*>(w.status_label())})
      EXPECT_TRUE(inside_window(b, &w)) << b->objectName().toStdString();
  }
}

TEST(GuiState, StaleResultIsMarkedAndOnlyACurrentResultPins) {
  MainWindow w(test_dirs());
  EXPECT_FALSE(w.pin_button()->isEnabled());  // nothing run yet
  ASSERT_TRUE(w.run_blocking());
  EXPECT_TRUE(w.result_is_current());
  EXPECT_TRUE(w.stale_banner()->isHidden());
  EXPECT_TRUE(w.pin_button()->isEnabled());

  // A form edit: the result is for the old form.
  auto* gpus = qobject_cast<QSpinBox*>(w.panel()->field("cluster.gpus"));
  gpus->setValue(128);
  EXPECT_FALSE(w.result_is_current());
  EXPECT_FALSE(w.stale_banner()->isHidden());
  EXPECT_TRUE(w.stale_banner()->text().contains("Run to update"));
  EXPECT_TRUE(w.stale_banner()->text().contains("64×H100-SXM")) << w.stale_banner()->text().toStdString();
  EXPECT_FALSE(w.pin_button()->isEnabled());
  EXPECT_FALSE(w.pin_current());
  // Back to what was run: current again, and pinned once only.
  gpus->setValue(64);
  EXPECT_TRUE(w.result_is_current());
  EXPECT_TRUE(w.stale_banner()->isHidden());
  ASSERT_TRUE(w.pin_current());
  EXPECT_FALSE(w.pin_button()->isEnabled());
  EXPECT_FALSE(w.pin_current());
  EXPECT_EQ(w.compare()->pin_count(), 1);

  // During a run Pin is off; a cancelled run leaves the old result marked.
  gpus->setValue(128);
  w.start_run();
  EXPECT_FALSE(w.pin_button()->isEnabled());
  w.cancel_run();
  EXPECT_FALSE(w.stale_banner()->isHidden());
  EXPECT_TRUE(w.status_label()->text().contains("earlier")) << w.status_label()->text().toStdString();
  EXPECT_FALSE(w.pin_button()->isEnabled());

  // Open: the result is for the previous file.
  w.set_discard_prompt([](const QString&) { return QMessageBox::Discard; });
  ASSERT_TRUE(w.open_scenario(QString::fromStdString(h800_file())));
  EXPECT_FALSE(w.stale_banner()->isHidden());
  EXPECT_FALSE(w.pin_button()->isEnabled());
  wait_until([] { return false; }, 200);  // the cancelled worker delivers and is ignored
}

TEST(GuiCompare, LabelsCarryTheLayoutAndInfeasiblePinsAreMarked) {
  MainWindow w(test_dirs());
  ASSERT_TRUE(w.open_scenario(QString::fromStdString(h800_file())));
  ASSERT_TRUE(w.run_blocking());
  ASSERT_TRUE(w.pin_current());
  QString error;
  ASSERT_TRUE(w.pin_variant({"parallelism.pp=8"}, QString(), &error)) << error.toStdString();
  const int gpus = w.result()->scenario.cluster.gpus;
  const QString gpu = QString::fromStdString(w.result()->scenario.gpu.name);
  EXPECT_TRUE(w.compare()->header(0).contains(QString("%1×%2 tp1 pp16 ep64").arg(gpus).arg(gpu)))
      << w.compare()->header(0).toStdString();
  EXPECT_TRUE(w.compare()->header(1).contains(QString("%1×%2 tp1 pp8 ep64").arg(gpus).arg(gpu)))
      << w.compare()->header(1).toStdString();
  EXPECT_NE(w.compare()->header(0), w.compare()->header(1));
  // Memory rows: "x of y GiB: fits" per pin; a layout that does not fit is marked so.
  ASSERT_TRUE(w.pin_variant({"training.seq_len=16384"}, "long sequences", &error))
      << error.toStdString();
  const int last = w.compare()->pin_count() - 1;
  EXPECT_FALSE(w.compare()->feasible(last));
  EXPECT_TRUE(w.compare()->header(last).contains("DOES NOT FIT"));
  EXPECT_TRUE(w.compare()->table()->item(1, last)->text().contains("DOES NOT FIT"));
  EXPECT_EQ(w.compare()->table()->verticalHeaderItem(0)->text(), "layout");
  EXPECT_TRUE(w.compare()->to_html().contains("DOES NOT FIT"));
}

TEST(GuiDocument, NewDocumentIsRunnableAndShowsTheValuesUsed) {
  MainWindow w(test_dirs());
  ASSERT_TRUE(w.document().valid()) << w.document().error();
  EXPECT_TRUE(w.run_button()->isEnabled());
  EXPECT_TRUE(w.document().is_new());
  // Every field shows the resolved scenario's value (the document's, or the default used).
  const Json& used = w.document().resolved();
  for (const QString& path : w.panel()->paths()) {
    SCOPED_TRACE(path.toStdString());
    const Json* v = json_at(used, path.toStdString());
    QWidget* f = w.panel()->field(path);
    if (auto* spin = qobject_cast<QSpinBox*>(f)) {
      ASSERT_NE(v, nullptr);
      EXPECT_EQ(spin->value(), v->get<int>());
    } else if (auto* combo = qobject_cast<QComboBox*>(f)) {
      ASSERT_NE(v, nullptr);
      EXPECT_EQ(combo->currentText().toStdString(),
                v->is_string() ? v->get<std::string>() : v->dump());
    } else if (auto* edit = qobject_cast<QLineEdit*>(f)) {
      ASSERT_NE(v, nullptr);
      // Given in the document: the text; left to the default: the placeholder says it.
      const QString shown = edit->text().isEmpty() ? edit->placeholderText() : edit->text();
      EXPECT_NEAR(shown.section(' ', 0, 0).toDouble(), v->get<double>(), 1e-9 * v->get<double>())
          << shown.toStdString();
    }
  }
  EXPECT_TRUE(w.panel()->shows_default("economics.gpu_hour_usd"));
  EXPECT_FALSE(w.panel()->shows_default("cluster.gpus"));
  ASSERT_TRUE(w.run_blocking());

  // Save writes the whole document, with ".json" added, and the title follows.
  QTemporaryDir tmp;
  QString error, written;
  ASSERT_TRUE(w.save_scenario(tmp.filePath("plan-a"), &error, &written)) << error.toStdString();
  EXPECT_TRUE(written.endsWith("plan-a.json"));
  QFile f(written);
  ASSERT_TRUE(f.open(QIODevice::ReadOnly));
  const Json saved = Json::parse(f.readAll().toStdString());
  EXPECT_EQ(saved, w.document().json());
  EXPECT_TRUE(saved.contains("model") && saved.contains("cluster") && saved.contains("training"));
  EXPECT_TRUE(w.windowTitle().contains("plan-a.json")) << w.windowTitle().toStdString();
  // Save As: the title follows the new name.
  w.set_save_path_prompt([&] { return tmp.filePath("plan-b.json"); });
  ASSERT_TRUE(w.save_as());
  EXPECT_TRUE(w.windowTitle().contains("plan-b.json"));
  EXPECT_FALSE(w.windowTitle().contains("plan-a"));
  EXPECT_FALSE(w.isWindowModified());
}

TEST(GuiDocument, AllProblemsAreListedAndUnknownKeysCanBeRemoved) {
  MainWindow w(test_dirs());
  Json doc = default_scenario_document();
  doc["pipline"] = Json::object();           // a typo no field can show
  doc["parallelism"]["tp"] = 3;              // does not divide
  doc["training"]["seq_len"] = "long";       // not a number
  w.document().set_document(doc, "typo.json");
  w.panel()->refresh();
  ASSERT_FALSE(w.document().valid());
  const auto& problems = w.document().problems();
  ASSERT_GE(problems.size(), 3u);
  const QString shown = w.panel()->error_label()->text();
  for (const char* what : {"pipline", "parallelism.tp", "training.seq_len"})
    EXPECT_TRUE(shown.contains(what)) << what << " in " << shown.toStdString();
  // One removal offered, for the unknown key, naming it.
  ASSERT_EQ(w.panel()->remove_buttons().size(), 1u);
  QPushButton* remove = w.panel()->remove_buttons().front();
  EXPECT_TRUE(remove->text().contains("pipline"));
  remove->click();
  EXPECT_FALSE(w.document().json().contains("pipline"));
  EXPECT_TRUE(w.panel()->remove_buttons().empty());
  // Fixing the rest makes it runnable.
  qobject_cast<QSpinBox*>(w.panel()->field("parallelism.tp"))->setValue(2);
  auto* seq = qobject_cast<QSpinBox*>(w.panel()->field("training.seq_len"));
  EXPECT_EQ(seq->text(), "(not a number)");  // not a number pretending to be used
  seq->setValue(4096);
  EXPECT_TRUE(w.document().valid()) << w.document().error();
  EXPECT_TRUE(w.run_button()->isEnabled());
}

TEST(GuiDocument, EditsAreNotDiscardedWithoutAsking) {
  MainWindow w(test_dirs());
  int asked = 0;
  QMessageBox::StandardButton answer = QMessageBox::Cancel;
  w.set_discard_prompt([&](const QString&) {
    ++asked;
    return answer;
  });
  w.new_scenario();  // nothing edited: no question
  EXPECT_EQ(asked, 0);
  qobject_cast<QSpinBox*>(w.panel()->field("cluster.gpus"))->setValue(128);
  EXPECT_TRUE(w.isWindowModified());
  w.new_scenario();  // Cancel: kept
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(w.document().json()["cluster"]["gpus"], 128);
  EXPECT_FALSE(w.close());  // Ctrl+Q / closing the window asks too
  EXPECT_EQ(asked, 2);
  answer = QMessageBox::Discard;
  w.new_scenario();
  EXPECT_EQ(w.document().json()["cluster"]["gpus"], 64);
  EXPECT_FALSE(w.isWindowModified());
}

TEST(GuiRun, ShortcutsRunAndButtonsStayPut) {
  MainWindow w(test_dirs());
  w.fit_to_screen(QRect(0, 0, 1024, 700));
  w.show();
  QApplication::processEvents();
  const auto keys = w.run_action()->shortcuts();
  EXPECT_TRUE(keys.contains(QKeySequence(Qt::CTRL | Qt::Key_R)));
  EXPECT_TRUE(keys.contains(QKeySequence(Qt::Key_F5)));
  const QPoint run_at = w.run_button()->mapTo(&w, QPoint(0, 0));
  w.run_action()->trigger();
  EXPECT_TRUE(w.running());
  QApplication::processEvents();
  EXPECT_TRUE(w.progress()->isVisible());
  EXPECT_EQ(w.run_button()->mapTo(&w, QPoint(0, 0)), run_at);  // no jump
  ASSERT_TRUE(wait_until([&] { return !w.running(); }, 30000));
  EXPECT_TRUE(w.result_is_current());
  // Return in a field runs what the form says.
  auto* gpus = qobject_cast<QSpinBox*>(w.panel()->field("cluster.gpus"));
  gpus->setValue(128);
  QKeyEvent enter(QEvent::KeyPress, Qt::Key_Return, Qt::NoModifier);
  QApplication::sendEvent(gpus, &enter);
  EXPECT_TRUE(w.running());
  ASSERT_TRUE(wait_until([&] { return !w.running(); }, 30000));
  ASSERT_NE(w.result(), nullptr);
  EXPECT_EQ(w.result()->scenario.cluster.gpus, 128);
}

TEST(GuiExport, HtmlReportHasTheSectionsAPlannerNeeds) {
  MainWindow w(test_dirs());
  ASSERT_TRUE(w.open_scenario(QString::fromStdString(h800_file())));
  QSpinBox* gpus = qobject_cast<QSpinBox*>(w.panel()->field("cluster.gpus"));
  gpus->setValue(4096);
  ASSERT_TRUE(w.run_blocking());
  const std::string html = report_to_html(*w.result());
  const std::string description = w.result()->scenario.description;
  ASSERT_FALSE(description.empty());
  // The description once, marked as the base scenario's; the resolved cluster next to it.
  EXPECT_EQ(html.find(html_escape(description)), html.rfind(html_escape(description)));
  EXPECT_NE(html.find("Base scenario's description"), std::string::npos);
  EXPECT_NE(html.find("4,096 × H800-SXM"), std::string::npos);
  for (const char* id : {"id=\"summary\"", "id=\"chart-breakdown\"", "id=\"chart-memory\"",
                         "id=\"moe-heatmap\"", "id=\"run\"", "id=\"assumptions\"",
                         "id=\"provenance\"", "P90", "seconds per training step", "GiB per GPU"})
    EXPECT_NE(html.find(id), std::string::npos) << id;
  // Assumptions carry the catalogue's sources, and no raw JSON dump is printed.
  EXPECT_NE(html.find(html_escape(w.result()->scenario.gpu.bf16_tflops.source)), std::string::npos);
  EXPECT_EQ(html.find("\"schema\""), std::string::npos);
  // The PDF: more than the text page, and no mouse hints from the timeline.
  QTemporaryDir tmp;
  QString error;
  const QString pdf = tmp.filePath("r.pdf");
  ASSERT_TRUE(w.export_pdf(pdf, &error)) << error.toStdString();
  EXPECT_FALSE(w.timeline()->caption().contains("Mouse wheel"));
}

}  // namespace
}  // namespace clustercost
