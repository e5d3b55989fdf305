#include "gui/scenario_panel.hpp"

#include <climits>
#include <cmath>

#include <QComboBox>
#include <QFormLayout>
#include <QLineEdit>
#include <QSpinBox>
#include <QVBoxLayout>

namespace clustercost {

namespace {
const char* kInlineModel = "(inline model)";

QString qs(const std::string& s) { return QString::fromStdString(s); }

// A number as the user would type it: integers without a decimal point, large values in
// exponent form ("1.48e+13").
QString number_text(double v) {
  if (std::fabs(v) < 1e9 && v == std::floor(v)) return QString::number(static_cast<long long>(v));
  return QString::number(v, 'g', 10);
}
}  // namespace

ScenarioPanel::ScenarioPanel(ScenarioDocument& document, QWidget* parent)
    : QWidget(parent), document_(document) {
  auto* outer = new QVBoxLayout(this);
  outer->setContentsMargins(4, 4, 4, 4);
  form_ = new QFormLayout();
  form_->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  outer->addLayout(form_);

  QStringList presets;
  for (const auto& p : list_model_presets(document_.dirs().presets())) presets << qs(p);
  add_choice("model", tr("Model preset"), presets);
  QStringList gpus;
  for (const auto& g : document_.catalog().gpus()) gpus << qs(g.name);
  add_choice("cluster.gpu", tr("GPU type"), gpus);
  add_int("cluster.gpus", tr("GPU count"), 8);
  add_int("parallelism.tp", tr("Tensor parallel (tp)"), 1);
  add_int("parallelism.pp", tr("Pipeline parallel (pp)"), 1);
  add_int("parallelism.ep", tr("Expert parallel (ep)"), 1);
  add_int("parallelism.cp", tr("Context parallel (cp)"), 1);
  add_int("parallelism.vpp", tr("Virtual stages (vpp)"), 1);
  add_int("parallelism.micro_batch", tr("Micro-batch (sequences)"), 1);
  add_choice("parallelism.zero", tr("ZeRO stage"), {"0", "1", "2", "3"});
  add_choice("parallelism.recompute", tr("Recompute"), {"none", "selective", "full"});
  add_choice("parallelism.schedule", tr("Schedule"),
             {"gpipe", "1f1b", "interleaved", "zb-h1", "dualpipe"});
  add_choice("training.precision", tr("GEMM precision"), {"bf16", "fp8"});
  add_text("training.tokens", tr("Tokens (whole run)"), tr("e.g. 15e12"));
  add_int("training.seq_len", tr("Sequence length"), 4096);
  add_int("training.global_batch", tr("Global batch (sequences)"), 1);
  add_text("economics.gpu_hour_usd", tr("USD per GPU-hour"), tr("catalogue price"));

  error_ = new QLabel(this);
  error_->setObjectName("validation_error");
  error_->setWordWrap(true);
  error_->setStyleSheet("color: #c00000;");
  error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  outer->addWidget(error_);
  outer->addStretch();
  refresh();
}

QWidget* ScenarioPanel::field(const QString& json_path) const {
  auto it = fields_.find(json_path);
  return it == fields_.end() ? nullptr : it->second;
}

QStringList ScenarioPanel::paths() const { return order_; }

void ScenarioPanel::add_int(const QString& path, const QString& label, int fallback) {
  auto* spin = new QSpinBox(this);
  // Zero and huge values are accepted by the widget so the loader, not the widget, says what
  // is wrong with them (the CLI would get the same message).
  spin->setRange(0, INT_MAX);
  spin->setGroupSeparatorShown(false);
  spin->setKeyboardTracking(true);
  spin->setObjectName(path);
  form_->addRow(label, spin);
  fields_[path] = spin;
  int_fallback_[path] = fallback;
  order_ << path;
  connect(spin, &QSpinBox::valueChanged, this, [this, path](int v) { edited_int(path, v); });
}

void ScenarioPanel::add_choice(const QString& path, const QString& label,
                               const QStringList& choices) {
  auto* combo = new QComboBox(this);
  combo->addItems(choices);
  combo->setObjectName(path);
  form_->addRow(label, combo);
  fields_[path] = combo;
  order_ << path;
  connect(combo, &QComboBox::currentTextChanged, this,
          [this, path](const QString& v) { edited_choice(path, v); });
}

void ScenarioPanel::add_text(const QString& path, const QString& label,
                             const QString& placeholder) {
  auto* edit = new QLineEdit(this);
  edit->setPlaceholderText(placeholder);
  edit->setObjectName(path);
  form_->addRow(label, edit);
  fields_[path] = edit;
  order_ << path;
  connect(edit, &QLineEdit::textChanged, this,
          [this, path](const QString& t) { edited_text(path, t); });
}

void ScenarioPanel::refresh() {
  refreshing_ = true;
  const Json& doc = document_.json();
  for (const auto& path : order_) {
    const std::string p = path.toStdString();
    QWidget* w = fields_[path];
    if (auto* spin = qobject_cast<QSpinBox*>(w)) {
      const auto v = json_number_at(doc, p);
      double shown = v.value_or(int_fallback_[path]);
      if (!(shown >= 0) || shown > INT_MAX) shown = int_fallback_[path];
      spin->setValue(static_cast<int>(shown));
    } else if (auto* combo = qobject_cast<QComboBox*>(w)) {
      QString value;
      if (path == "model") {
        const bool is_inline = doc.is_object() && doc.contains("model") && doc["model"].is_object();
        const int idx = combo->findText(kInlineModel);
        if (is_inline) {
          inline_model_ = doc["model"];
          if (idx < 0) combo->insertItem(0, kInlineModel);
          value = kInlineModel;
        } else {
          if (idx >= 0) combo->removeItem(idx);
          value = qs(json_string_at(doc, p).value_or(""));
        }
      } else if (path == "cluster.gpu") {
        // Scenario files may use an alias ("h800"); show the catalogue key.
        const auto name = json_string_at(doc, p).value_or("");
        const GpuSpec* g = document_.catalog().find_gpu(name);
        value = qs(g ? g->name : name);
      } else if (path == "parallelism.zero") {
        const auto v = json_number_at(doc, p);
        value = QString::number(v ? static_cast<int>(*v) : 1);
      } else {
        const auto v = json_string_at(doc, p);
        const Scenario* s = document_.scenario();
        if (v) {
          value = qs(*v);
        } else if (s && path == "parallelism.recompute") {
          value = qs(recompute_name(s->parallelism.recompute));
        } else if (s && path == "parallelism.schedule") {
          value = qs(schedule_name(s->parallelism.schedule));
        } else if (s && path == "training.precision") {
          value = qs(s->training.precision);
        }
      }
      if (!value.isEmpty() && combo->findText(value) < 0) combo->addItem(value);
      combo->setCurrentIndex(value.isEmpty() ? -1 : combo->findText(value));
    } else if (auto* edit = qobject_cast<QLineEdit*>(w)) {
      const auto v = json_number_at(doc, p);
      edit->setText(v ? number_text(*v) : QString());
    }
  }
  refreshing_ = false;
  show_status();
}

void ScenarioPanel::edited_int(const QString& path, int value) {
  if (refreshing_) return;
  document_.set_value(path.toStdString(), Json(value));
  show_status();
  emit document_changed();
}

void ScenarioPanel::edited_choice(const QString& path, const QString& value) {
  if (refreshing_ || value.isEmpty()) return;
  if (path == "model" && value == kInlineModel) {
    document_.set_value("model", inline_model_);
  } else if (path == "parallelism.zero") {
    document_.set_text(path.toStdString(), value.toStdString());
  } else {
    document_.set_value(path.toStdString(), Json(value.toStdString()));
  }
  show_status();
  emit document_changed();
}

void ScenarioPanel::edited_text(const QString& path, const QString& text) {
  if (refreshing_) return;
  const QString t = text.trimmed();
  if (t.isEmpty())
    document_.erase(path.toStdString());  // the loader's default (e.g. the catalogue price)
  else
    document_.set_text(path.toStdString(), t.toStdString());
  show_status();
  emit document_changed();
}

void ScenarioPanel::show_status() {
  if (document_.valid()) {
    error_->clear();
    error_->hide();
  } else {
    error_->setText(qs(document_.error()));
    error_->show();
  }
}

}  // namespace clustercost
