pub mod line_editor;
