"""`streamlit run app.py` from a source checkout. The app itself is
src/sok/ui/app.py, inside the package, so that an installed sok (`sok serve`)
has it too; this file only hands over to it."""

import importlib.util
import runpy

import streamlit as st

from sok.ui.fileserver import routes

SCRIPT = importlib.util.find_spec("sok.ui.app").origin  # type: ignore[union-attr]

if __name__ == "__main__":
    runpy.run_path(SCRIPT, run_name="__main__")
else:  # imported by `streamlit run`, which finds `app` by reading this file: the package's script, with the file route
    app = st.App(SCRIPT, routes=routes())
