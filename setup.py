"""Builds the optional compiled reader of the dominant reason shape (see _reason_scan.pyx).

Everything else is in pyproject.toml. Without Cython or a C compiler the package installs
without it and decodes every reason with its regex readers (`optional`: a failed build is
skipped, not fatal).
"""

from setuptools import Extension, setup

try:
    from Cython.Build import cythonize
except ImportError:  # built without isolation and without Cython
    extensions = []
else:
    extensions = cythonize([Extension(
        "mailflow_doctor.evidence.trace._reason_scan",
        ["src/mailflow_doctor/evidence/trace/_reason_scan.pyx"])])
    for extension in extensions:
        extension.optional = True  # set after cythonize, which makes new Extensions without it

setup(ext_modules=extensions)
