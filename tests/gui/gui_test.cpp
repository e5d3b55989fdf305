// Offscreen tests of the what-if window: the charts and cards show the library's numbers for
// every shipped scenario, invalid input keeps Run disabled with the loader's message, pins
// compare, exports write real files.

#include <gtest/gtest.h>

#include <QApplication>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFile>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QWheelEvent>

#include <climits>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include "gui/analysis.hpp"
#include "gui/main_window.hpp"
#include "hardware/spec/catalog.hpp"
#include "sim/report/report.hpp"
#include "sim/scenario/scenario.hpp"

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
Json reference_report(const std::filesystem::path& file) {
  const DataDirs dirs = test_dirs();
  const Catalog catalog = Catalog::load(dirs.catalog());
  return report_to_json(run_scenario(load_scenario(file, {}, catalog, dirs)));
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

    // Scaling: the scenario's own GPU at its own count is the report itself (when it fits).
    const std::string gpu = j["scenario"]["cluster"]["gpu"].get<std::string>();
    const double gpus = j["scenario"]["cluster"]["gpus"].get<double>();
    const ChartSeries* line = find_series(w.scaling_days_chart(), QString::fromStdString(gpu));
    {
      ASSERT_NE(line, nullptr);
      bool found = false;
      for (std::size_t k = 0; k < line->x.size(); ++k) {
        if (line->x[k] == gpus) {
          found = true;
          expect_close6(line->y[k], j["run"]["wall_days"].get<double>(), "scaling wall days");
          ASSERT_EQ(line->flagged.size(), line->x.size());
          EXPECT_EQ(line->flagged[k], !j["memory"]["fits"].get<bool>());
        }
      }
      const ChartSeries* cost_line =
          find_series(w.scaling_cost_chart(), QString::fromStdString(gpu));
      ASSERT_NE(cost_line, nullptr);
      for (std::size_t k = 0; k < cost_line->x.size(); ++k)
        if (cost_line->x[k] == gpus)
          expect_close6(cost_line->y[k] * 1e6, j["cost"]["total_usd"].get<double>(), "cost");
      EXPECT_TRUE(found);
      EXPECT_TRUE(w.scaling_days_chart()->x_axis_title().contains("GPUs"));
      EXPECT_TRUE(w.scaling_cost_chart()->value_axis_title().contains("USD"));
    }

    // Traffic placeholder and timeline.
    // The report names the preset; an MoE model is the one whose active parameters are fewer.
    const bool moe = j["model"]["params_active"].get<double>() <
                     j["model"]["params_total"].get<double>();
    EXPECT_EQ(w.traffic_label()->text().startsWith("MoE traffic heatmap"), moe);
    const auto& sk = w.timeline()->sketch();
    EXPECT_EQ(sk.stages, static_cast<int>(j["step"]["stages"].size()));
    EXPECT_EQ(sk.blocks.size(), static_cast<std::size_t>(2 * sk.stages * sk.micro_batches));

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
  EXPECT_FALSE(w.open_scenario(bad));
  EXPECT_TRUE(w.last_error().contains("bad.json"));
  EXPECT_FALSE(w.run_button()->isEnabled());
  EXPECT_FALSE(w.run_blocking());
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
  EXPECT_TRUE(w.compare()->table()->item(0, 1)->text().contains("+100.0 %"));
  ASSERT_EQ(w.compare()->chart()->series().size(), 2u);
  EXPECT_NEAR(w.compare()->chart()->series()[0].y.at(0), 100.0, 1e-9);  // base = 100 %
  // A variant the loader rejects is not pinned, and says why.
  EXPECT_FALSE(w.pin_variant({"parallelism.tp=3"}, "bad", &error));
  EXPECT_TRUE(error.contains("parallelism.tp")) << error.toStdString();
  EXPECT_EQ(w.compare()->pin_count(), 2);
  // Tables of many pins still work.
  for (int k = 0; k < 3; ++k) ASSERT_TRUE(w.pin_current());
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
  ASSERT_TRUE(wait_for([&] { return !w.running(); }, 20000));
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

// ---- the pipeline sketch -----------------------------------------------------------------

StepResult uniform_stages(int p, double f, double b) {
  StepResult r;
  for (int s = 0; s < p; ++s) {
    StageTiming t;
    t.stage = s;
    t.forward = Seconds(f);
    t.backward = Seconds(b);
    r.stages.push_back(t);
  }
  return r;
}

void check_dependencies(const TimelineSketch& sk) {
  std::map<std::tuple<int, int, bool>, TimelineBlock> by;
  for (const auto& b : sk.blocks) by[std::make_tuple(b.stage, b.micro_batch, b.backward)] = b;
  auto end_of = [&](int stage, int mb, bool bwd) {
    return by.at(std::make_tuple(stage, mb, bwd)).end_s - 1e-12;
  };
  for (const auto& b : sk.blocks) {
    if (!b.backward && b.stage > 0) {
      EXPECT_GE(b.start_s, end_of(b.stage - 1, b.micro_batch, false));
    }
    if (b.backward && b.stage + 1 < sk.stages) {
      EXPECT_GE(b.start_s, end_of(b.stage + 1, b.micro_batch, true));
    }
    if (b.backward) {
      EXPECT_GE(b.start_s, end_of(b.stage, b.micro_batch, false));
    }
  }
  // One stage runs one block at a time.
  for (int s = 0; s < sk.stages; ++s) {
    std::vector<std::pair<double, double>> iv;
    for (const auto& b : sk.blocks)
      if (b.stage == s) iv.push_back({b.start_s, b.end_s});
    std::sort(iv.begin(), iv.end());
    for (std::size_t k = 1; k < iv.size(); ++k) EXPECT_GE(iv[k].first, iv[k - 1].second - 1e-12);
  }
}

TEST(GuiTimeline, PipelineSketchMatchesTheTextbookMakespan) {
  // p stages, m micro-batches, forward f and backward b: both GPipe and 1F1B take
  // (m + p − 1)(f + b) (Narayanan et al. 2021, §2.2: bubble fraction (p − 1)/m).
  const int p = 4, m = 8;
  for (Schedule sched : {Schedule::GPipe, Schedule::OneFOneB, Schedule::DualPipe}) {
    const auto sk = sketch_pipeline(uniform_stages(p, 1.0, 2.0), sched, m);
    EXPECT_EQ(sk.blocks.size(), static_cast<std::size_t>(2 * p * m));
    EXPECT_NEAR(sk.makespan_s, (m + p - 1) * 3.0, 1e-9);
    for (double busy : sk.busy_s) EXPECT_NEAR(busy, m * 3.0, 1e-9);
    check_dependencies(sk);
  }
  EXPECT_FALSE(sketch_pipeline(uniform_stages(p, 1, 2), Schedule::DualPipe, m).note.empty());
  const auto capped = sketch_pipeline(uniform_stages(2, 1, 1), Schedule::OneFOneB, 1000, 16);
  EXPECT_EQ(capped.micro_batches, 16);
  EXPECT_EQ(capped.micro_batches_total, 1000);
  EXPECT_TRUE(sketch_pipeline(StepResult{}, Schedule::GPipe, 4).blocks.empty());
}

TEST(GuiTimeline, WheelZooms) {
  TimelineView view;
  view.resize(800, 300);
  view.show_sketch(sketch_pipeline(uniform_stages(4, 1.0, 2.0), Schedule::OneFOneB, 8));
  EXPECT_DOUBLE_EQ(view.zoom(), 1.0);
  QWheelEvent up(QPointF(100, 50), QPointF(100, 50), QPoint(), QPoint(0, 120), Qt::NoButton,
                 Qt::NoModifier, Qt::NoScrollPhase, false);
  QApplication::sendEvent(view.viewport(), &up);
  EXPECT_NEAR(view.zoom(), 1.25, 1e-12);
  view.zoom_by(0.01);  // never below the fitted view
  EXPECT_DOUBLE_EQ(view.zoom(), 1.0);
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
