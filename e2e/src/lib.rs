//! e2e: scenarios written once, run on the simulator and on kind.
