//! The state model (`.kamal/dev_state.yml`) and its store: the only code that touches the state file.
