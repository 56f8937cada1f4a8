"""Proto messages from an AWS API model (botocore's service-2.json), shared by the generators.

The messages mirror the AWS shapes field for field: every member keeps its AWS name as json_name,
scalars are proto3 `optional` so that "absent" and "zero" stay apart, enums stay strings and carry
their allowed values as a field option, timestamps are epoch seconds (ADR 0004). Field numbers
follow botocore's member order.
"""
import re

SCALARS = {
    "string": "string",
    "integer": "int32",
    "long": "int64",
    "boolean": "bool",
    "double": "double",
    "float": "double",
    "timestamp": "double",
    "blob": "bytes",
}


def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return s.lower()


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Generator:
    """The messages of every shape reachable from `operations` of `model` (a ServiceModel).

    `header` is the comment lines at the top, `package` the proto package."""

    def __init__(self, model, operations, header, package="skiff.v1"):
        self.model = model
        self.operations = operations
        self.header = header
        self.package = package
        self.order = []
        self.seen = set()
        self.uses_string_list = False  # set by field_type; render() then imports it

    def visit(self, shape):
        if shape.type_name == "structure":
            if shape.name in self.seen:
                return
            self.seen.add(shape.name)
            for member in shape.members.values():
                self.visit(member)
            self.order.append(shape)
        elif shape.type_name == "list":
            self.visit(shape.member)
        elif shape.type_name == "map":
            self.visit(shape.value)

    def field_type(self, shape):
        """Returns (label, type) for a member shape."""
        if shape.type_name == "structure":
            return "", shape.name
        if shape.type_name == "list":
            inner = shape.member
            if inner.type_name in ("list", "map"):
                raise SystemExit(f"nested container in {shape.name} has no proto mapping")
            return "repeated ", self.field_type(inner)[1]
        if shape.type_name == "map":
            if shape.value.type_name == "list":
                # Proto maps cannot hold lists: a list of strings travels as skiff.v1.StringList,
                # which the JSON codec writes and reads as a plain array.
                if shape.value.member.type_name != "string":
                    raise SystemExit(f"map of non-string lists in {shape.name}")
                self.uses_string_list = True
                return "", "map<string, skiff.v1.StringList>"
            value = self.field_type(shape.value)[1]
            return "", f"map<string, {value}>"
        return "optional ", SCALARS[shape.type_name]

    def message(self, shape):
        required = set(shape.required_members)
        lines = [f"message {shape.name} {{"]
        for number, (name, member) in enumerate(shape.members.items(), start=1):
            label, type_ = self.field_type(member)
            options = [f"json_name = {quote(name)}"]
            if name in required:
                options.append("(skiff.v1.required) = true")
            if member.type_name == "timestamp":
                options.append("(skiff.v1.timestamp) = true")
            enum = member.enum if member.type_name == "string" else []
            for value in enum:
                options.append(f"(skiff.v1.allowed) = {quote(value)}")
            if member.type_name == "list":
                for value in member.member.enum if member.member.type_name == "string" else []:
                    options.append(f"(skiff.v1.allowed) = {quote(value)}")
            field = snake(name)
            head = f"  {label}{type_} {field} = {number} ["
            if len(head) + sum(len(o) + 2 for o in options) <= 100:
                lines.append(head + ", ".join(options) + "];")
            else:
                lines.append(head + "\n      " + ",\n      ".join(options) + "];")
        lines.append("}")
        return "\n".join(lines)

    def run(self):
        for op_name in self.operations:
            op = self.model.operation_model(op_name)
            if op.input_shape is not None:
                self.visit(op.input_shape)
            if op.output_shape is not None:
                self.visit(op.output_shape)
        out = self.header + [
            'syntax = "proto3";',
            "",
            f"package {self.package};",
            "",
            'import "skiff/v1/options.proto";',
        ]
        messages = []
        for shape in sorted(self.order, key=lambda s: s.name):
            messages.append(self.message(shape))
            messages.append("")
        # Known only once the messages are written.
        if self.uses_string_list:
            out.append('import "skiff/v1/string_list.proto";')
        out.append("")
        out.extend(messages)
        return "\n".join(out)


