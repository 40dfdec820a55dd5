//! Local control channels into a running softphone. For now the single-instance hand-over: a
//! second launch (a clicked `sip:` link, a script) passes its words to the running instance.

pub mod instance;
