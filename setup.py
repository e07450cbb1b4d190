"""Package layout: the top-level folders become ``livc.<folder>`` import names.

``platform/`` at the top of the repository must never be importable as ``platform`` (that
would shadow the standard library, which SQLAlchemy imports). So the folders carry no
``__init__.py`` at their top, and are mapped to ``livc.platform`` and friends here. Wheels
skip namespace subpackages that are not listed, hence the explicit discovery per folder.

The build also compiles the translation catalogues (``.po`` -> ``.mo``), so that both
editable and wheel installs ship ready-to-use languages.
"""

from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).parent
FOLDERS = {
    "livc.platform": "platform",
    "livc.tenants": "tenants",
    "livc.federation": "federation",
    "livc.admin": "admin",
    "livc.migrations": "migrations",
    "livc.app": "app",
}
DATA_FOLDERS = ("templates", "static", "translations")
DATA_GLOBS = [f"{folder}/**/*" for folder in DATA_FOLDERS] + ["*.mako", "*.json", "*.csv"]


def discover():
    packages, package_dir = [], {}
    for name, folder in FOLDERS.items():
        packages.append(name)
        package_dir[name] = folder
        excluded = [pattern for d in (*DATA_FOLDERS, "frontend") for pattern in (d, f"{d}.*")]
        for sub in find_namespace_packages(where=folder, exclude=excluded + ["*__pycache__*"]):
            packages.append(f"{name}.{sub}")
            package_dir[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"
    return packages, package_dir


def compile_catalogs():
    """Compile every ``messages.po`` beside its source, as ``pybabel compile`` would."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in HERE.glob("*/translations/*/LC_MESSAGES/messages.po"):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        with po_path.with_suffix(".mo").open("wb") as mo_file:
            write_mo(mo_file, catalog)


def build_stylesheet():
    """The pages' stylesheet, from the design system (scripts/build-frontend.sh: npm and sass),
    unless ``make install`` built it already."""
    import subprocess

    if not (HERE / "platform" / "static" / "build" / "livc.css").exists():
        subprocess.run(["bash", str(HERE / "scripts" / "build-frontend.sh")], check=True)


class BuildWithCatalogs(build_py):
    def run(self):
        compile_catalogs()
        build_stylesheet()
        super().run()


packages, package_dir = discover()
setup(
    packages=packages,
    package_dir=package_dir,
    package_data={name: DATA_GLOBS for name in packages},
    cmdclass={"build_py": BuildWithCatalogs},
)
