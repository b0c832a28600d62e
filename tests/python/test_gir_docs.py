"""Every public symbol in the built GIR is documented: the API reference
(gi-docgen, `-Ddocs=true`) has no "No description available"."""

import os
import xml.etree.ElementTree as ET

from helpers import BUILD_DIR

CORE = "{http://www.gtk.org/introspection/core/1.0}"
GLIB = "{http://www.gtk.org/introspection/glib/1.0}"

# What gets a page or an entry of its own in the reference.
DOCUMENTED = {
    CORE + "class", CORE + "interface", CORE + "record", CORE + "union",
    CORE + "enumeration", CORE + "bitfield", CORE + "member",
    CORE + "function", CORE + "method", CORE + "constructor", CORE + "virtual-method",
    CORE + "property", GLIB + "signal", CORE + "constant", CORE + "callback", CORE + "alias",
}
CALLABLE = {CORE + "function", CORE + "method", CORE + "constructor",
            CORE + "virtual-method", CORE + "callback", GLIB + "signal"}


def undocumented(gir_path):
    namespace = ET.parse(gir_path).getroot().find(CORE + "namespace")
    missing = []

    def has_doc(element):
        return element.find(CORE + "doc") is not None

    def visit(element, path):
        for child in element:
            if child.tag not in DOCUMENTED:
                continue
            # A class struct (RedServerClass) is shown on its class's page.
            if child.get(GLIB + "is-gtype-struct-for"):
                continue
            name = "%s.%s" % (path, child.get("name"))
            kind = child.tag.split("}")[1]
            if not has_doc(child):
                missing.append("%s %s" % (kind, name))
            if child.tag in CALLABLE:
                ret = child.find(CORE + "return-value")
                if ret is not None and not has_doc(ret):
                    type_ = ret.find(CORE + "type")
                    if type_ is None or type_.get("name") != "none":
                        missing.append("return value of %s %s" % (kind, name))
                params = child.find(CORE + "parameters")
                for param in params if params is not None else ():
                    if not has_doc(param):
                        missing.append("parameter %s of %s %s" % (param.get("name"), kind, name))
            visit(child, name)

    visit(namespace, namespace.get("name"))
    return missing


def test_every_public_symbol_has_a_doc():
    missing = undocumented(os.path.join(BUILD_DIR, "Red-1.0.gir"))
    assert missing == [], "documented in bindings/c/*.h without a description:\n  " + "\n  ".join(missing)


def test_the_check_sees_a_missing_doc(tmp_path):
    gir = tmp_path / "Bare-1.0.gir"
    gir.write_text("""<?xml version="1.0"?>
<repository version="1.2" xmlns="http://www.gtk.org/introspection/core/1.0"
            xmlns:glib="http://www.gtk.org/introspection/glib/1.0">
  <namespace name="Bare" version="1.0">
    <class name="Thing"><doc>A thing.</doc>
      <property name="size"/>
      <glib:signal name="changed"><doc>Changed.</doc>
        <return-value><type name="none"/></return-value></glib:signal>
      <method name="get_size"><return-value><doc>the size</doc></return-value></method>
    </class>
    <enumeration name="Kind"><doc>Kinds.</doc><member name="one"/></enumeration>
  </namespace>
</repository>
""")
    assert undocumented(str(gir)) == [
        "property Bare.Thing.size",
        "method Bare.Thing.get_size",
        "member Bare.Kind.one",
    ]
