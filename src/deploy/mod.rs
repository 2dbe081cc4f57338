//! The deploy workflow: plan (pure) -> apply (effects) -> events. The only module that knows the order of steps.
