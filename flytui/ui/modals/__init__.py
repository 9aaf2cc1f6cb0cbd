"""Modal dialogs (``ModalScreen``): confirm, pickers, forms, detail views."""
