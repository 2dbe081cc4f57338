//! Where machines come from: the Provider trait, the closed enum of providers and one module each. Only this module speaks HTTP; it knows nothing about SSH or Docker.
