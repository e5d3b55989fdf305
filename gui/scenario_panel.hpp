#pragma once
/// The left panel: the scenario's editable fields. Each edit goes to the ScenarioDocument as a
/// `PATH=VALUE` override and is re-validated at once; the loader's message shows in red under
/// the fields while the document is invalid.

#include <map>
#include <string>

#include <QFormLayout>
#include <QLabel>
#include <QString>
#include <QWidget>

#include "gui/scenario_document.hpp"

namespace clustercost {

class ScenarioPanel : public QWidget {
  Q_OBJECT
 public:
  ScenarioPanel(ScenarioDocument& document, QWidget* parent = nullptr);

  /// Reloads every field from the document (after Open), without emitting edits.
  void refresh();
  /// The editor of a JSON path ("parallelism.tp", "cluster.gpu", "model", ...): a QSpinBox,
  /// QComboBox or QLineEdit; nullptr for unknown paths.
  QWidget* field(const QString& json_path) const;
  /// Every editable path, in display order.
  QStringList paths() const;
  /// The red message line (empty and hidden when the document is valid).
  QLabel* error_label() const { return error_; }

 signals:
  /// After every edit (the document has been re-validated).
  void document_changed();

 private:
  void add_int(const QString& path, const QString& label, int fallback);
  void add_choice(const QString& path, const QString& label, const QStringList& choices);
  void add_text(const QString& path, const QString& label, const QString& placeholder);
  void edited_int(const QString& path, int value);
  void edited_choice(const QString& path, const QString& value);
  void edited_text(const QString& path, const QString& text);
  void show_status();

  ScenarioDocument& document_;
  std::map<QString, QWidget*> fields_;
  std::map<QString, int> int_fallback_;
  QStringList order_;
  Json inline_model_;
  QLabel* error_ = nullptr;
  QFormLayout* form_ = nullptr;
  bool refreshing_ = false;
};

}  // namespace clustercost
