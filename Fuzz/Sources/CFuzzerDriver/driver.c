// The driver is declared in include/CFuzzerDriver.h; this file only makes the target a C module.
