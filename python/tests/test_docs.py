# SPDX-License-Identifier: BSD-2-Clause
"""Every public name of the package is documented: a docstring on each
function, class, method and property in the modules' __all__, and each
name (and each public method or property of a public class) mentioned in
man/rdmaps-python.7."""

import inspect
import os
import re
import unittest

import rpstest

MODULES = ["rdmaps", "rdmaps.torch", "rdmaps.dcs3gd", "rdmaps.initfile"]


def page_text():
    with open(os.path.join(rpstest.SRCDIR, "man", "rdmaps-python.7")) as f:
        text = f.read()
    text = text.replace("\\-", "-").replace("\\(em", "-")
    return re.sub(r"\\f[BIRP]", "", text)


def public_members(cls):
    for name, obj in vars(cls).items():
        if name.startswith("_"):
            continue
        if callable(obj) or isinstance(obj, property):
            yield name, obj


class Docs(unittest.TestCase):
    def test_everything_public_is_documented(self):
        page = page_text()
        missing_doc, missing_page, checked = [], [], 0
        for modname in MODULES:
            try:
                mod = __import__(modname, fromlist=["_"])
            except ImportError as e:
                if "torch" in str(e):  # rdmaps.torch and dcs3gd need torch
                    continue
                raise
            for name in mod.__all__:
                obj = getattr(mod, name)
                if not (inspect.isclass(obj) or callable(obj)):
                    continue  # constants
                checked += 1
                if not inspect.getdoc(obj):
                    missing_doc.append("%s.%s" % (modname, name))
                if not re.search(r"\b%s\b" % re.escape(name), page):
                    missing_page.append("%s.%s" % (modname, name))
                if inspect.isclass(obj):
                    for mname, m in public_members(obj):
                        checked += 1
                        doc = m.__doc__ if isinstance(m, property) else inspect.getdoc(m)
                        if not doc:
                            missing_doc.append("%s.%s.%s" % (modname, name, mname))
                        if not re.search(r"\b%s\b" % re.escape(mname), page):
                            missing_page.append("%s.%s.%s" % (modname, name, mname))
        self.assertGreater(checked, 30)
        self.assertEqual(missing_doc, [], "no docstring")
        self.assertEqual(missing_page, [], "not in man/rdmaps-python.7")


if __name__ == "__main__":
    unittest.main()
