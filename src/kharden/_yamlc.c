/*
 * kharden._yamlc: builds plain data and packed positions straight from libyaml's events.
 *
 * kharden._yaml composes each document into PyYAML nodes (a Python object and two marks per
 * node) and then walks them; four fifths of its time went to those objects, not to libyaml.
 * This module reads the same events and builds what _yaml's direct build (_direct) builds: the
 * dicts, lists and scalars of a document, and the positions of its keys and items laid out as
 * kharden._yaml.Positions packs them. Scalars are typed by the Python functions it is given, so
 * that typing has one definition.
 *
 * It handles only what _direct handles. Anything else (an anchor or alias, a merge key, a
 * repeated key, a key that is not a plain or untagged scalar, a tag that does not read, a
 * document that libyaml refuses, nesting past 1000 levels) raises the `unusual` exception it was
 * given, and the caller reads the document, and the rest of the text, the Python way: errors and
 * the unusual cases are worded in one place.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <yaml.h>

#define LINE_SHIFT 32
#define SLOTS_SHIFT 32 /* kharden._pointer.SLOTS_SHIFT: tests/test_yamlc.py checks they agree */
#define MAX_DEPTH 1000

typedef struct {
    PyObject_HEAD
    yaml_parser_t parser;
    int parser_ready;
    int started; /* STREAM_START read */
    int ended;   /* STREAM_END read */
    PyObject *text;
    PyObject *cache;    /* dict: plain scalar text -> its typed value */
    PyObject *plain;    /* text -> typed value (fills cache) */
    PyObject *typed;    /* (tag, text) -> value, raises unusual when it does not read */
    PyObject *key_text; /* a typed key that is not a str -> its text */
    PyObject *unusual;  /* the exception class that hands the document to the Python way */
    uint64_t *packed;
    Py_ssize_t size;
    Py_ssize_t capacity;
    size_t end_line; /* where the node built last ends */
} Reader;

static int
unusual(Reader *r)
{
    if (!PyErr_Occurred())
        PyErr_SetNone(r->unusual);
    return -1;
}

static int
next_event(Reader *r, yaml_event_t *event)
{
    if (!yaml_parser_parse(&r->parser, event))
        return unusual(r);
    return 0;
}

static Py_ssize_t
reserve(Reader *r, Py_ssize_t count)
{
    Py_ssize_t start = r->size;
    if (r->size + count > r->capacity) {
        Py_ssize_t capacity = r->capacity ? r->capacity : 1024;
        while (capacity < r->size + count)
            capacity *= 2;
        uint64_t *grown = PyMem_Realloc(r->packed, (size_t)capacity * sizeof(uint64_t));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        r->packed = grown;
        r->capacity = capacity;
    }
    memset(r->packed + start, 0, (size_t)count * sizeof(uint64_t));
    r->size += count;
    return start;
}

static inline uint64_t
pack(yaml_mark_t mark)
{
    return ((uint64_t)mark.line << LINE_SHIFT) | (uint64_t)mark.column;
}

static int
has_anchor(yaml_event_t *event)
{
    switch (event->type) {
    case YAML_SCALAR_EVENT:
        return event->data.scalar.anchor != NULL;
    case YAML_SEQUENCE_START_EVENT:
        return event->data.sequence_start.anchor != NULL;
    case YAML_MAPPING_START_EVENT:
        return event->data.mapping_start.anchor != NULL;
    default:
        return 1; /* an alias, or an event that cannot start a node */
    }
}

/* The tag PyYAML's composer gives a scalar, as _yaml's resolve hook decides it: 0 for the
 * implicit marker (a plain untagged scalar, or one tagged '!'), 1 for str, 2 for a tag written
 * out. */
static int
tag_kind(yaml_event_t *event)
{
    const char *tag = (const char *)event->data.scalar.tag;
    if (tag == NULL || (tag[0] == '!' && tag[1] == '\0'))
        return event->data.scalar.plain_implicit ? 0 : 1;
    return 2;
}

static PyObject *
text_of(yaml_event_t *event)
{
    return PyUnicode_DecodeUTF8(
        (const char *)event->data.scalar.value, (Py_ssize_t)event->data.scalar.length, "strict");
}

/* A plain scalar typed through the cache, or `plain` when the cache does not know it. Steals. */
static PyObject *
resolved(Reader *r, PyObject *text)
{
    PyObject *known = PyDict_GetItemWithError(r->cache, text);
    if (known != NULL) {
        Py_DECREF(text);
        Py_INCREF(known);
        return known;
    }
    if (PyErr_Occurred()) {
        Py_DECREF(text);
        return NULL;
    }
    PyObject *value = PyObject_CallOneArg(r->plain, text);
    Py_DECREF(text);
    return value;
}

static PyObject *
scalar_value(Reader *r, yaml_event_t *event)
{
    PyObject *text = text_of(event);
    if (text == NULL)
        return NULL;
    switch (tag_kind(event)) {
    case 0:
        if (event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
            return resolved(r, text);
        return text;
    case 1:
        return text;
    default: {
        PyObject *tag = PyUnicode_DecodeUTF8(
            (const char *)event->data.scalar.tag, (Py_ssize_t)strlen((const char *)event->data.scalar.tag),
            "strict");
        if (tag == NULL) {
            Py_DECREF(text);
            return NULL;
        }
        PyObject *value = PyObject_CallFunctionObjArgs(r->typed, tag, text, NULL);
        Py_DECREF(tag);
        Py_DECREF(text);
        return value;
    }
    }
}

static PyObject *
key_value(Reader *r, yaml_event_t *event)
{
    int kind = tag_kind(event);
    if (kind == 2) {
        unusual(r);
        return NULL;
    }
    if (kind == 1 || event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return text_of(event);
    if (event->data.scalar.length == 2 && event->data.scalar.value[0] == '<' && event->data.scalar.value[1] == '<') {
        unusual(r); /* a merge key */
        return NULL;
    }
    PyObject *text = text_of(event);
    if (text == NULL)
        return NULL;
    PyObject *key = resolved(r, text);
    if (key == NULL || PyUnicode_CheckExact(key))
        return key;
    PyObject *written = PyObject_CallOneArg(r->key_text, key);
    Py_DECREF(key);
    return written;
}

static PyObject *build(Reader *r, yaml_event_t *event, int depth);

/* A container's block as it is laid out: its header, then its own positions, then its children's blocks.
 * How many positions it has is known only at its end, when its children's blocks are already written: the
 * positions are gathered apart and put in place then (one memmove of the children's blocks). */
typedef struct {
    Py_ssize_t header;
    Py_ssize_t children; /* where the children's blocks start */
    uint64_t *marks;
    Py_ssize_t count;
    Py_ssize_t capacity;
} Block;

static int
block_open(Reader *r, Block *block)
{
    block->header = reserve(r, 1);
    if (block->header < 0)
        return -1;
    block->children = r->size;
    block->count = 0;
    block->capacity = 16;
    block->marks = PyMem_Malloc((size_t)block->capacity * sizeof(uint64_t));
    if (block->marks == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static int
block_mark(Block *block, yaml_mark_t mark)
{
    if (block->count == block->capacity) {
        uint64_t *grown = PyMem_Realloc(block->marks, (size_t)block->capacity * 2 * sizeof(uint64_t));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        block->marks = grown;
        block->capacity *= 2;
    }
    block->marks[block->count++] = pack(mark);
    return 0;
}

static int
block_close(Reader *r, Block *block)
{
    Py_ssize_t children = r->size - block->children;
    if (reserve(r, block->count) < 0)
        return -1;
    memmove(r->packed + block->children + block->count, r->packed + block->children,
            (size_t)children * sizeof(uint64_t));
    memcpy(r->packed + block->children, block->marks, (size_t)block->count * sizeof(uint64_t));
    r->packed[block->header] = (uint64_t)(r->size - block->header) | ((uint64_t)block->count << SLOTS_SHIFT);
    return 0;
}

/* The container of ``block``, its block closed; or, after an error (``ok`` 0) or when the block cannot be
 * closed, NULL and the container dropped. Either way the block's gathered positions are freed. */
static PyObject *
block_end(Reader *r, Block *block, PyObject *result, int ok)
{
    if (ok && block_close(r, block) < 0)
        ok = 0;
    PyMem_Free(block->marks);
    if (!ok) {
        Py_XDECREF(result);
        return NULL;
    }
    return result;
}

/* The next event of a collection: 1 for an item (or a key), 0 at the collection's end (its end line kept,
 * the event deleted), -1 after an error. */
static int
next_item(Reader *r, yaml_event_type_t end, yaml_event_t *event)
{
    if (next_event(r, event) < 0)
        return -1;
    if (event->type != end)
        return 1;
    r->end_line = event->end_mark.line;
    yaml_event_delete(event);
    return 0;
}

static PyObject *
build_sequence(Reader *r, int depth)
{
    Block block = {0};
    PyObject *result = PyList_New(0);
    if (result == NULL || block_open(r, &block) < 0)
        goto fail;
    for (;;) {
        yaml_event_t event;
        int more = next_item(r, YAML_SEQUENCE_END_EVENT, &event);
        if (more < 0)
            goto fail;
        if (!more)
            break;
        if (block_mark(&block, event.start_mark) < 0) {
            yaml_event_delete(&event);
            goto fail;
        }
        PyObject *item = build(r, &event, depth + 1);
        yaml_event_delete(&event);
        if (item == NULL)
            goto fail;
        int failed = PyList_Append(result, item);
        Py_DECREF(item);
        if (failed)
            goto fail;
    }
    return block_end(r, &block, result, 1);
fail:
    return block_end(r, &block, result, 0);
}

static PyObject *
build_mapping(Reader *r, int depth)
{
    Block block = {0};
    PyObject *result = PyDict_New();
    if (result == NULL || block_open(r, &block) < 0)
        goto fail;
    for (;;) {
        yaml_event_t event;
        int more = next_item(r, YAML_MAPPING_END_EVENT, &event);
        if (more < 0)
            goto fail;
        if (!more)
            break;
        if (event.type != YAML_SCALAR_EVENT || has_anchor(&event)) {
            yaml_event_delete(&event);
            unusual(r);
            goto fail;
        }
        if (block_mark(&block, event.start_mark) < 0) {
            yaml_event_delete(&event);
            goto fail;
        }
        PyObject *key = key_value(r, &event);
        yaml_event_delete(&event);
        if (key == NULL)
            goto fail;
        yaml_event_t value_event;
        if (next_event(r, &value_event) < 0) {
            Py_DECREF(key);
            goto fail;
        }
        PyObject *value = build(r, &value_event, depth + 1);
        yaml_event_delete(&value_event);
        if (value == NULL) {
            Py_DECREF(key);
            goto fail;
        }
        int failed = PyDict_SetItem(result, key, value);
        Py_DECREF(key);
        Py_DECREF(value);
        if (failed)
            goto fail;
    }
    if (PyDict_GET_SIZE(result) != block.count) {
        unusual(r); /* a repeated key: the Python way keeps the last one's place */
        goto fail;
    }
    return block_end(r, &block, result, 1);
fail:
    return block_end(r, &block, result, 0);
}

static PyObject *
build(Reader *r, yaml_event_t *event, int depth)
{
    if (depth > MAX_DEPTH || has_anchor(event)) {
        unusual(r);
        return NULL;
    }
    switch (event->type) {
    case YAML_SCALAR_EVENT:
        r->end_line = event->end_mark.line;
        return scalar_value(r, event);
    case YAML_SEQUENCE_START_EVENT:
        return build_sequence(r, depth);
    case YAML_MAPPING_START_EVENT:
        return build_mapping(r, depth);
    default:
        unusual(r);
        return NULL;
    }
}

/* Reader.next(): the next document as (data, packed positions or None for a scalar document,
 * 0-based line and column where its root starts, 0-based line where it ends); None after the
 * last. */
static PyObject *
Reader_next(Reader *r, PyObject *Py_UNUSED(ignored))
{
    yaml_event_t event;
    if (r->ended)
        Py_RETURN_NONE;
    if (!r->started) {
        if (next_event(r, &event) < 0)
            return NULL;
        yaml_event_delete(&event); /* STREAM_START */
        r->started = 1;
    }
    if (next_event(r, &event) < 0)
        return NULL;
    if (event.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&event);
        r->ended = 1;
        Py_RETURN_NONE;
    }
    yaml_event_delete(&event); /* DOCUMENT_START */
    if (next_event(r, &event) < 0)
        return NULL;
    yaml_mark_t start = event.start_mark;
    int scalar = event.type == YAML_SCALAR_EVENT;
    r->size = 0;
    PyObject *data = build(r, &event, 0);
    yaml_event_delete(&event);
    if (data == NULL)
        return NULL;
    size_t end_line = r->end_line;
    if (next_event(r, &event) < 0) { /* DOCUMENT_END */
        Py_DECREF(data);
        return NULL;
    }
    yaml_event_delete(&event);
    PyObject *packed;
    if (scalar) {
        packed = Py_None;
        Py_INCREF(packed);
    } else {
        packed = PyBytes_FromStringAndSize((const char *)r->packed, r->size * (Py_ssize_t)sizeof(uint64_t));
        if (packed == NULL) {
            Py_DECREF(data);
            return NULL;
        }
    }
    return Py_BuildValue("(NNnnn)", data, packed, (Py_ssize_t)start.line, (Py_ssize_t)start.column, (Py_ssize_t)end_line);
}

static int
Reader_init(Reader *r, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"text", "cache", "plain", "typed", "key_text", "unusual", NULL};
    PyObject *text, *cache, *plain, *typed, *key_text, *unusual_class;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!OOOO:Reader", keywords, &PyBytes_Type, &text, &PyDict_Type,
                                     &cache, &plain, &typed, &key_text, &unusual_class))
        return -1;
    if (r->parser_ready) {
        PyErr_SetString(PyExc_RuntimeError, "Reader initialised twice");
        return -1;
    }
    if (!yaml_parser_initialize(&r->parser)) {
        PyErr_NoMemory();
        return -1;
    }
    r->parser_ready = 1;
    Py_INCREF(text);
    r->text = text;
    Py_INCREF(cache);
    r->cache = cache;
    Py_INCREF(plain);
    r->plain = plain;
    Py_INCREF(typed);
    r->typed = typed;
    Py_INCREF(key_text);
    r->key_text = key_text;
    Py_INCREF(unusual_class);
    r->unusual = unusual_class;
    yaml_parser_set_input_string(&r->parser, (const unsigned char *)PyBytes_AS_STRING(text),
                                 (size_t)PyBytes_GET_SIZE(text));
    return 0;
}

static void
Reader_dealloc(Reader *r)
{
    if (r->parser_ready)
        yaml_parser_delete(&r->parser);
    PyMem_Free(r->packed);
    Py_XDECREF(r->text);
    Py_XDECREF(r->cache);
    Py_XDECREF(r->plain);
    Py_XDECREF(r->typed);
    Py_XDECREF(r->key_text);
    Py_XDECREF(r->unusual);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyMethodDef Reader_methods[] = {
    {"next", (PyCFunction)Reader_next, METH_NOARGS, "The next document, or None after the last."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "kharden._yamlc.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The documents of one YAML text, built from libyaml's events.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Reader_init,
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_methods = Reader_methods,
};

/* -- trace_packed: kharden._pointer.trace_packed in one C call ------------------------------------------
 *
 * The walk of a pointer down a document and its packed positions that every finding makes (to locate its
 * field and name its list items): the same steps as the Python function, which stays the reference and
 * takes what this leaves: None for a pointer with an escape (~), or packed positions that do not fit the
 * document; the caller then walks it the Python way, which gives the same answer or the same error. Items told apart by more than their name go to ``item_name`` (kharden._pointer._item_name). */

#define SIZE_MASK ((UINT64_C(1) << SLOTS_SHIFT) - 1)

static int
is_container(PyObject *value)
{
    return PyDict_CheckExact(value) || PyList_CheckExact(value);
}

/* The item's name as the stable pointer gives it: "[name]" when no other dict item has that name, else
 * what item_name says. NULL with no error: the token itself. */
static PyObject *
item_label(PyObject *items, Py_ssize_t index, PyObject *item, PyObject *item_name)
{
    if (!PyDict_CheckExact(item))
        return NULL;
    PyObject *name = PyDict_GetItemString(item, "name"); /* borrowed */
    if (name == NULL || !PyUnicode_CheckExact(name) || PyUnicode_GET_LENGTH(name) == 0)
        return NULL;
    Py_ssize_t same = 0, n = PyList_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *other = PyList_GET_ITEM(items, i);
        if (!PyDict_CheckExact(other))
            continue;
        PyObject *other_name = PyDict_GetItemString(other, "name");
        if (other_name == NULL)
            continue;
        int equal = PyObject_RichCompareBool(other_name, name, Py_EQ);
        if (equal < 0)
            return NULL;
        same += equal;
    }
    if (same == 1)
        return PyUnicode_FromFormat("[%U]", name);
    return PyObject_CallFunction(item_name, "OnO", items, index, name);
}

static PyObject *
trace_packed(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *root, *pointer, *packed_obj, *item_name;
    Py_ssize_t offset;
    if (!PyArg_ParseTuple(args, "OUOnO", &root, &pointer, &packed_obj, &offset, &item_name))
        return NULL;
    if (PyUnicode_FindChar(pointer, '~', 0, PyUnicode_GET_LENGTH(pointer), 1) != -1)
        Py_RETURN_NONE; /* escapes: the Python way */
    Py_buffer view;
    if (PyObject_GetBuffer(packed_obj, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const uint64_t *packed = (const uint64_t *)view.buf;
    Py_ssize_t size = view.len / (Py_ssize_t)sizeof(uint64_t);
    PyObject *result = NULL, *tokens = NULL, *stable = NULL, *found = Py_None;
    Py_INCREF(found);
    Py_ssize_t length = PyUnicode_GET_LENGTH(pointer);
    if (length == 0) {
        result = Py_BuildValue("(Os)", found, "");
        goto done;
    }
    PyObject *sep = PyUnicode_FromString("/");
    if (sep == NULL)
        goto done;
    PyObject *rest = PyUnicode_Substring(pointer, 1, length);
    if (rest == NULL) {
        Py_DECREF(sep);
        goto done;
    }
    tokens = PyUnicode_Split(rest, sep, -1);
    Py_DECREF(rest);
    Py_DECREF(sep);
    if (tokens == NULL)
        goto done;
    Py_ssize_t count = PyList_GET_SIZE(tokens);
    stable = PyList_New(count);
    if (stable == NULL)
        goto done;
    PyObject *node = root; /* borrowed */
    int present = 1;
    for (Py_ssize_t step = 0; step < count; step++) {
        PyObject *token = PyList_GET_ITEM(tokens, step);
        PyObject *label = NULL;
        if (present && PyDict_CheckExact(node)) {
            PyObject *child = PyDict_GetItemWithError(node, token);
            if (child == NULL && PyErr_Occurred())
                goto done;
            if (child != NULL) {
                if (offset >= 0) {
                    if (offset >= size)
                        goto fallback;
                    Py_ssize_t slots = (Py_ssize_t)(packed[offset] >> SLOTS_SHIFT);
                    Py_ssize_t block = offset + 1 + slots, index = 0, pos = 0;
                    PyObject *key, *value;
                    int last = step == count - 1;
                    while (PyDict_Next(node, &pos, &key, &value)) {
                        int equal = key == token ? 1 : PyObject_RichCompareBool(key, token, Py_EQ);
                        if (equal < 0)
                            goto done;
                        if (equal)
                            break;
                        if (!last && is_container(value)) {
                            if (block >= size)
                                goto fallback;
                            block += (Py_ssize_t)(packed[block] & SIZE_MASK);
                        }
                        index++;
                    }
                    if (index < slots) {
                        if (offset + 1 + index >= size)
                            goto fallback;
                        Py_SETREF(found, PyLong_FromUnsignedLongLong(packed[offset + 1 + index]));
                        if (found == NULL)
                            goto done;
                        offset = block;
                    }
                    else
                        offset = -1;
                }
                node = child;
                Py_INCREF(token);
                PyList_SET_ITEM(stable, step, token);
                continue;
            }
        }
        else if (present && PyList_CheckExact(node)) {
            Py_ssize_t digits = PyUnicode_GET_LENGTH(token);
            if (!PyUnicode_IS_ASCII(token) || digits == 0)
                goto not_an_index; /* kharden._pointer._is_index: ASCII digits only */
            const char *text = (const char *)PyUnicode_DATA(token);
            Py_ssize_t index = 0;
            int big = 0;
            for (Py_ssize_t i = 0; i < digits; i++) {
                if (text[i] < '0' || text[i] > '9')
                    goto not_an_index;
                if (index > 100000000)
                    big = 1;
                else
                    index = index * 10 + (text[i] - '0');
            }
            if (!big && index < PyList_GET_SIZE(node)) {
                if (offset >= 0) {
                    if (offset >= size)
                        goto fallback;
                    Py_ssize_t slots = (Py_ssize_t)(packed[offset] >> SLOTS_SHIFT);
                    if (index < slots) {
                        if (offset + 1 + index >= size)
                            goto fallback;
                        Py_SETREF(found, PyLong_FromUnsignedLongLong(packed[offset + 1 + index]));
                        if (found == NULL)
                            goto done;
                        if (step != count - 1) {
                            Py_ssize_t block = offset + 1 + slots;
                            for (Py_ssize_t i = 0; i < index; i++) {
                                if (is_container(PyList_GET_ITEM(node, i))) {
                                    if (block >= size)
                                        goto fallback;
                                    block += (Py_ssize_t)(packed[block] & SIZE_MASK);
                                }
                            }
                            offset = block;
                        }
                    }
                    else
                        offset = -1;
                }
                PyObject *items = node;
                node = PyList_GET_ITEM(items, index);
                label = item_label(items, index, node, item_name);
                if (label == NULL && PyErr_Occurred())
                    goto done;
                if (label == NULL) {
                    Py_INCREF(token);
                    label = token;
                }
                PyList_SET_ITEM(stable, step, label);
                continue;
            }
        not_an_index:;
        }
        present = 0;
        Py_INCREF(token);
        PyList_SET_ITEM(stable, step, token);
    }
    {
        PyObject *empty = PyUnicode_FromString("/");
        if (empty == NULL)
            goto done;
        PyObject *joined = PyUnicode_Join(empty, stable);
        if (joined == NULL) {
            Py_DECREF(empty);
            goto done;
        }
        PyObject *text = PyUnicode_Concat(empty, joined);
        Py_DECREF(joined);
        Py_DECREF(empty);
        if (text == NULL)
            goto done;
        result = PyTuple_Pack(2, found, text);
        Py_DECREF(text);
    }
    goto done;
fallback:
    result = Py_None;
    Py_INCREF(result);
done:
    Py_XDECREF(found);
    Py_XDECREF(tokens);
    Py_XDECREF(stable);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef module_methods[] = {
    {"trace_packed", trace_packed, METH_VARARGS,
     "kharden._pointer.trace_packed(root, pointer, packed, offset), or None: walk it the Python way."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "kharden._yamlc", .m_doc = "YAML documents built from libyaml's events.", .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__yamlc(void)
{
    if (PyType_Ready(&ReaderType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ReaderType);
    if (PyModule_AddObject(m, "Reader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(&ReaderType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "SLOTS_SHIFT", SLOTS_SHIFT) < 0 || PyModule_AddIntConstant(m, "LINE_SHIFT", LINE_SHIFT) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddStringConstant(m, "LIBYAML", yaml_get_version_string()) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
