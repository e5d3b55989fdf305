#pragma once
/// The left panel: the scenario's editable fields. Each edit goes to the ScenarioDocument as a
/// `PATH=VALUE` override and is re-validated at once. A field whose key the document leaves out
/// shows the value the run will use (the loader's default, in italics, "default" in its
/// tooltip). While the document is invalid every problem the loader finds is listed in red
/// under the fields, and a key the loader does not know (a typo no field can show) gets a
/// button that removes it.

#include <map>
#include <vector>
#include <string>

#include <QFormLayout>
#include <QLabel>
#include <QPushButton>
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
  /// The red message lines, one per problem (empty and hidden when the document is valid).
  QLabel* error_label() const { return error_; }
  /// The "Remove unknown key" buttons shown for the current problems, in problem order.
  std::vector<QPushButton*> remove_buttons() const { return remove_buttons_; }
  /// True when `json_path`'s field shows a default (its key is absent from the document).
  bool shows_default(const QString& json_path) const;

 signals:
  /// After every edit (the document has been re-validated).
  void document_changed();
  /// Return or Enter pressed in a field: run what the form now says.
  void run_requested();

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void add_int(const QString& path, const QString& label, int fallback);
  void add_choice(const QString& path, const QString& label, const QStringList& choices);
  void add_text(const QString& path, const QString& label, const QString& placeholder);
  void edited_int(const QString& path, int value);
  void edited_choice(const QString& path, const QString& value);
  void edited_text(const QString& path, const QString& text);
  void show_status();
  /// refresh() that leaves the value of the field being edited (`editing`) as the user has it.
  void refresh_fields(const QString& editing);
  void mark_default(QWidget* w, bool is_default);

  ScenarioDocument& document_;
  std::map<QString, QWidget*> fields_;
  std::map<QString, int> int_fallback_;
  QStringList order_;
  Json inline_model_;
  QLabel* error_ = nullptr;
  QWidget* fixes_ = nullptr;  // holds the remove buttons
  std::vector<QPushButton*> remove_buttons_;
  QFormLayout* form_ = nullptr;
  bool refreshing_ = false;
};

}  // namespace clustercost
