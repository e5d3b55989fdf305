#include "gui/scenario_panel.hpp"

#include <climits>
#include <cmath>

#include <QComboBox>
#include <QFormLayout>
#include <QKeyEvent>
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
  add_text("economics.gpu_hour_usd", tr("USD per GPU-hour"), tr("the catalogue price"));

  error_ = new QLabel(this);
  error_->setObjectName("validation_error");
  error_->setWordWrap(true);
  error_->setStyleSheet("color: #c00000;");
  error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  outer->addWidget(error_);
  fixes_ = new QWidget(this);
  auto* fixes_layout = new QVBoxLayout(fixes_);
  fixes_layout->setContentsMargins(0, 0, 0, 0);
  outer->addWidget(fixes_);
  outer->addStretch();
  refresh();
}

bool ScenarioPanel::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() == QEvent::KeyPress) {
    const int key = static_cast<QKeyEvent*>(event)->key();
    if (key == Qt::Key_Return || key == Qt::Key_Enter) {
      emit run_requested();
      return true;
    }
  }
  return QWidget::eventFilter(watched, event);
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
  // 0 is invalid for every count here; it stands for a value the spin box cannot show (text
  // where a number belongs), so the field does not pretend to hold a number the run would use.
  spin->setSpecialValueText(tr("(not a number)"));
  spin->setGroupSeparatorShown(false);
  spin->setKeyboardTracking(true);
  spin->setObjectName(path);
  form_->addRow(label, spin);
  fields_[path] = spin;
  spin->installEventFilter(this);
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
  combo->installEventFilter(this);
  order_ << path;
  connect(combo, &QComboBox::currentTextChanged, this,
          [this, path](const QString& v) { edited_choice(path, v); });
}

void ScenarioPanel::add_text(const QString& path, const QString& label,
                             const QString& placeholder) {
  auto* edit = new QLineEdit(this);
  edit->setPlaceholderText(placeholder);
  edit->setProperty("base_placeholder", placeholder);
  edit->setObjectName(path);
  form_->addRow(label, edit);
  fields_[path] = edit;
  edit->installEventFilter(this);
  order_ << path;
  connect(edit, &QLineEdit::textChanged, this,
          [this, path](const QString& t) { edited_text(path, t); });
}

void ScenarioPanel::mark_default(QWidget* w, bool is_default) {
  QFont f = w->font();
  f.setItalic(is_default);
  w->setFont(f);
  w->setProperty("shows_default", is_default);
  w->setToolTip(is_default ? tr("Not in the scenario file: the default the run will use") : QString());
}

bool ScenarioPanel::shows_default(const QString& json_path) const {
  QWidget* w = field(json_path);
  return w && w->property("shows_default").toBool();
}

void ScenarioPanel::refresh() { refresh_fields(QString()); }

void ScenarioPanel::refresh_fields(const QString& editing) {
  refreshing_ = true;
  const Json& doc = document_.json();
  // What a field shows: the document's value, else the resolved scenario's (the loader's
  // default, or the last valid state's while the document is invalid).
  const Json& resolved = document_.resolved();
  for (const auto& path : order_) {
    const std::string p = path.toStdString();
    QWidget* w = fields_[path];
    const Json* given = json_at(doc, p);
    const Json* used = given ? given : (resolved.is_object() ? json_at(resolved, p) : nullptr);
    mark_default(w, !given && used && !used->is_null());
    auto* edit_field = qobject_cast<QLineEdit*>(w);
    if (path == editing && !edit_field) continue;  // the user's own value, already shown
    if (auto* spin = qobject_cast<QSpinBox*>(w)) {
      double shown = used && used->is_number() ? used->get<double>() : int_fallback_[path];
      if (!(shown >= 0) || shown > INT_MAX) shown = int_fallback_[path];
      if (given && !given->is_number()) shown = 0;
      spin->setValue(static_cast<int>(shown));
    } else if (auto* combo = qobject_cast<QComboBox*>(w)) {
      QString value;
      if (path == "model") {
        const bool is_inline = given && given->is_object();
        const int idx = combo->findText(kInlineModel);
        if (is_inline) {
          inline_model_ = *given;
          if (idx < 0) combo->insertItem(0, kInlineModel);
          value = kInlineModel;
        } else {
          if (idx >= 0) combo->removeItem(idx);
          value = qs(json_string_at(doc, p).value_or(""));
        }
      } else if (path == "cluster.gpu") {
        // Scenario files may use an alias ("h800"); show the catalogue key.
        const std::string name = used && used->is_string() ? used->get<std::string>() : "";
        const GpuSpec* g = document_.catalog().find_gpu(name);
        value = qs(g ? g->name : name);
      } else if (used && used->is_number()) {
        value = QString::number(used->get<long long>());  // the ZeRO stage
      } else if (used && used->is_string()) {
        value = qs(used->get<std::string>());
      }
      if (!value.isEmpty() && combo->findText(value) < 0) combo->addItem(value);
      combo->setCurrentIndex(value.isEmpty() ? -1 : combo->findText(value));
    } else if (auto* edit = qobject_cast<QLineEdit*>(w)) {
      // Absent: empty, with the value the run will use as the placeholder ("2.49, the
      // catalogue price"); typing a value writes it, clearing it returns to the default.
      if (path != editing)  // never rewrite what is being typed
        edit->setText(given && given->is_number() ? number_text(given->get<double>())
                      : given && given->is_string() ? qs(given->get<std::string>())
                                                    : QString());
      const QString placeholder = edit->property("base_placeholder").toString();
      edit->setPlaceholderText(used && used->is_number() && !given
                                   ? tr("%1 (%2)").arg(number_text(used->get<double>()), placeholder)
                                   : placeholder);
    }
  }
  refreshing_ = false;
  show_status();
}

void ScenarioPanel::edited_int(const QString& path, int value) {
  if (refreshing_) return;
  document_.set_value(path.toStdString(), Json(value));
  refresh_fields(path);
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
  refresh_fields(path);
  emit document_changed();
}

void ScenarioPanel::edited_text(const QString& path, const QString& text) {
  if (refreshing_) return;
  const QString t = text.trimmed();
  if (t.isEmpty())
    document_.erase(path.toStdString());  // the loader's default (e.g. the catalogue price)
  else
    document_.set_text(path.toStdString(), t.toStdString());
  refresh_fields(path);
  emit document_changed();
}

void ScenarioPanel::show_status() {
  for (QPushButton* b : remove_buttons_) b->deleteLater();
  remove_buttons_.clear();
  if (document_.valid()) {
    error_->clear();
    error_->hide();
    fixes_->hide();
    return;
  }
  // Every problem at once, so that fixing one does not reveal the next.
  QStringList lines;
  for (const auto& problem : document_.problems()) {
    lines << qs(problem.message).toHtmlEscaped();
    const std::string& key_path = problem.path;
    if (!problem.unknown_key || key_path.empty() || !json_at(document_.json(), key_path)) continue;
    auto* remove = new QPushButton(tr("Remove unknown key \"%1\"").arg(qs(key_path)), fixes_);
    remove->setObjectName(QString("remove:%1").arg(qs(key_path)));
    remove->setToolTip(tr("Delete \"%1\" from the scenario document; the loader does not know "
                          "it, and no field can show it").arg(qs(key_path)));
    fixes_->layout()->addWidget(remove);
    remove_buttons_.push_back(remove);
    connect(remove, &QPushButton::clicked, this, [this, key_path] {
      document_.erase(key_path);
      refresh();
      emit document_changed();
    });
  }
  error_->setText((lines.size() > 1 ? tr("<b>%1 problems:</b><br>").arg(lines.size()) : QString()) +
                  lines.join("<br>"));
  error_->show();
  fixes_->setVisible(!remove_buttons_.empty());
}

}  // namespace clustercost
