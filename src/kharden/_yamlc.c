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
#define _GNU_SOURCE /* pthread_setname_np */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <yaml.h>

#define LINE_SHIFT 32
#define SLOTS_SHIFT 32 /* kharden._pointer.SLOTS_SHIFT: tests/test_yamlc.py checks they agree */
#define MAX_DEPTH 1000

typedef struct Ahead Ahead;

typedef struct {
    PyObject_HEAD
    yaml_parser_t parser; /* unused when parsed ahead: the thread has its own */
    Ahead *ahead;         /* NULL: events parsed as they are asked */
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

/* -- parsing ahead ---------------------------------------------------------------------------------------
 *
 * libyaml's events, two fifths of a read, made by a thread of their own while this one builds the objects.
 * The thread owns the parser, and every event it makes until it deletes it: it fills chunks of events in a
 * ring and waits while the ring is full (a text's events are never all in memory); the reader reads a
 * chunk, gives it back, and leaves each event in place (event_done), for the thread to delete when it
 * fills the chunk again: memory libyaml allocates is freed by the thread that allocated it (freed by the
 * reader, each thread waited on the other's allocator, and parsing ahead took twice the CPU time). The
 * thread touches no Python object and runs without the GIL. When the reader is dropped, the thread stops
 * reading the text before the reader lets it go, then frees the rest on its own time. */
#define AHEAD_CHUNK 256
#define AHEAD_FIRST 16 /* the first chunks are smaller: the reader waits for the first */
#define AHEAD_RING 16
#define AHEAD_SPIN_NS 100000L

static unsigned forks; /* children this process is (a fork increments it in the child) */

static void
forked(void)
{
    forks++;
}

struct Ahead {
    yaml_parser_t parser;
    unsigned forks; /* `forks` when the thread started: a forked child has no thread (see ahead_forked) */
    pthread_mutex_t lock;
    pthread_cond_t filled_cond; /* a chunk filled, or parsing over */
    pthread_cond_t freed_cond;  /* a chunk given back, or the reader gone */
    int counts[AHEAD_RING];     /* events in each chunk as filled last (not deleted yet) */
    int filled;                 /* chunks filled and not given back (the one read included) */
    int parsing;                /* the thread may still read the text; 0: no more chunks come */
    int gone;                   /* the reader is gone: the thread frees the rest */
    int users;                  /* the reader and the thread: the last to let go frees this */
    int head;                   /* the chunk read (the reader's, as the two below) */
    int holding;                /* whether the reader holds chunk `head` */
    int position;               /* its next event */
    yaml_event_t events[AHEAD_RING][AHEAD_CHUNK];
};

static void
ahead_release(Ahead *a)
{
    pthread_mutex_lock(&a->lock);
    int last = --a->users == 0;
    pthread_mutex_unlock(&a->lock);
    if (last) {
        pthread_cond_destroy(&a->freed_cond);
        pthread_cond_destroy(&a->filled_cond);
        pthread_mutex_destroy(&a->lock);
        PyMem_RawFree(a);
    }
}

static void *
ahead_run(void *arg)
{
    Ahead *a = arg;
    int tail = 0, limit = AHEAD_FIRST, last = 0;
    while (!last) {
        pthread_mutex_lock(&a->lock);
        while (a->filled == AHEAD_RING && !a->gone)
            pthread_cond_wait(&a->freed_cond, &a->lock);
        int gone = a->gone;
        pthread_mutex_unlock(&a->lock);
        if (gone)
            break;
        for (int i = 0; i < a->counts[tail]; i++) /* read long ago (event_done) */
            yaml_event_delete(&a->events[tail][i]);
        int count = 0;
        while (count < limit && !last) {
            yaml_event_t *event = &a->events[tail][count];
            if (!yaml_parser_parse(&a->parser, event))
                last = 1; /* the reader gets the events before, then no more: unusual */
            else
                last = event->type == YAML_STREAM_END_EVENT, count++;
        }
        pthread_mutex_lock(&a->lock);
        a->counts[tail] = count;
        __atomic_store_n(&a->filled, a->filled + 1, __ATOMIC_RELEASE); /* ahead_spin reads both unlocked */
        if (last)
            __atomic_store_n(&a->parsing, 0, __ATOMIC_RELEASE);
        pthread_cond_broadcast(&a->filled_cond);
        pthread_mutex_unlock(&a->lock);
        tail = (tail + 1) % AHEAD_RING;
        limit = limit < AHEAD_CHUNK / 2 ? limit * 2 : AHEAD_CHUNK;
    }
    pthread_mutex_lock(&a->lock);
    __atomic_store_n(&a->parsing, 0, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&a->filled_cond);
    while (!a->gone)
        pthread_cond_wait(&a->freed_cond, &a->lock);
    pthread_mutex_unlock(&a->lock);
    for (int chunk = 0; chunk < AHEAD_RING; chunk++)
        for (int i = 0; i < a->counts[chunk]; i++)
            yaml_event_delete(&a->events[chunk][i]);
    yaml_parser_delete(&a->parser);
    ahead_release(a);
    return NULL;
}

/* A thread that parses `text` ahead for `r`: 1 when it runs, 0 when there is none to be had (the events
 * are then parsed as they are asked), -1 after an error. */
static int
ahead_start(Reader *r, PyObject *text)
{
    Ahead *a = PyMem_RawCalloc(1, sizeof(Ahead));
    if (a == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (!yaml_parser_initialize(&a->parser)) {
        PyMem_RawFree(a);
        PyErr_NoMemory();
        return -1;
    }
    /* The reader keeps the text, and lets the thread go only once it reads it no more (ahead_end). */
    yaml_parser_set_input_string(&a->parser, (const unsigned char *)PyBytes_AS_STRING(text),
                                 (size_t)PyBytes_GET_SIZE(text));
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->filled_cond, NULL);
    pthread_cond_init(&a->freed_cond, NULL);
    a->forks = forks;
    a->parsing = 1;
    a->users = 2;
    pthread_attr_t attr;
    pthread_t thread;
    int failed = pthread_attr_init(&attr);
    if (!failed) {
        pthread_attr_setstacksize(&attr, 256 * 1024); /* libyaml keeps its own stacks on the heap */
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        failed = pthread_create(&thread, &attr, ahead_run, a);
        pthread_attr_destroy(&attr);
    }
#ifdef __linux__
    if (!failed)
        pthread_setname_np(thread, "kharden-yaml"); /* as ps and /proc name it (tests count them so) */
#endif
    if (failed) {
        yaml_parser_delete(&a->parser);
        pthread_cond_destroy(&a->freed_cond);
        pthread_cond_destroy(&a->filled_cond);
        pthread_mutex_destroy(&a->lock);
        PyMem_RawFree(a);
        return 0;
    }
    r->ahead = a;
    return 1;
}

/* Whether this process is a child forked while the thread ran: the thread is not here, and its lock and
 * parser may have been copied mid-change. The reader then leaves the text to the Python way. */
static int
ahead_forked(Ahead *a)
{
    return a->forks != forks;
}

/* The reader is dropped: once the thread reads the text no more, it is left to free the rest. */
static void
ahead_end(Ahead *a)
{
    if (ahead_forked(a))
        return; /* leaks the copy rather than free what may have been mid-change */
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&a->lock);
    a->gone = 1;
    pthread_cond_broadcast(&a->freed_cond);
    while (a->parsing) /* at most the chunk it is filling, when the reader stops before the end */
        pthread_cond_wait(&a->filled_cond, &a->lock);
    pthread_mutex_unlock(&a->lock);
    ahead_release(a);
    Py_END_ALLOW_THREADS
}

/* Wait a little for the next chunk without sleeping: the thread fills one in a few tens of microseconds, and
 * waking from a sleep took as long (half the chunks were waited for). The CPU is yielded meanwhile: the
 * threads parsing this text and the next one (files are started one ahead) may be waiting for it. */
static void
ahead_spin(Ahead *a)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!__atomic_load_n(&a->filled, __ATOMIC_ACQUIRE) && __atomic_load_n(&a->parsing, __ATOMIC_ACQUIRE)) {
        sched_yield();
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) > AHEAD_SPIN_NS)
            return;
    }
}

/* Give back the chunk read, and take the next one: 0, or -1 when there is none (the stream ended, or
 * libyaml refused it, or the thread is not in this process). */
static int
ahead_take(Ahead *a)
{
    if (ahead_forked(a))
        return -1;
    int taken;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&a->lock);
    if (a->holding) {
        a->holding = 0;
        __atomic_store_n(&a->filled, a->filled - 1, __ATOMIC_RELEASE);
        a->head = (a->head + 1) % AHEAD_RING;
        pthread_cond_broadcast(&a->freed_cond);
    }
    if (a->filled == 0 && a->parsing) {
        pthread_mutex_unlock(&a->lock);
        ahead_spin(a);
        pthread_mutex_lock(&a->lock);
    }
    while (a->filled == 0 && a->parsing)
        pthread_cond_wait(&a->filled_cond, &a->lock);
    taken = a->filled > 0;
    if (taken) {
        a->holding = 1;
        a->position = 0;
    }
    pthread_mutex_unlock(&a->lock);
    Py_END_ALLOW_THREADS
    return taken ? 0 : -1;
}

static int
next_event(Reader *r, yaml_event_t *event)
{
    Ahead *a = r->ahead;
    if (a == NULL) {
        if (!yaml_parser_parse(&r->parser, event))
            return unusual(r);
        return 0;
    }
    while (!a->holding || a->position == a->counts[a->head]) {
        if (ahead_take(a) < 0)
            return unusual(r);
    }
    *event = a->events[a->head][a->position++];
    return 0;
}

/* The reader is done with an event: nothing of it is read once the next one is asked. One parsed ahead
 * stays in its chunk, for the thread to delete. */
static void
event_done(Reader *r, yaml_event_t *event)
{
    if (r->ahead == NULL)
        yaml_event_delete(event);
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

/* -- short scalars, by their bytes ------------------------------------------------------------------------
 *
 * Most scalars of a manifest are short and repeat (keys above all: apiVersion, name, image): each was
 * decoded into a new str, hashed and looked up in the cache of typed values, then dropped for the one
 * found there. Here a short scalar's bytes find what it gave before, in the way it was read (a plain value
 * is typed, a plain key made a key, any other scalar is its text): the same object, with its hash already
 * worked out. Filled up to three quarters, then only read, as the cache of typed values (a process's
 * readers share both). */
#define SCALAR_SLOTS 32768 /* a power of two */
#define SCALAR_FILL (SCALAR_SLOTS / 4 * 3)
#define SCALAR_MAX 46 /* bytes: a slot is 64 */

enum { AS_VALUE, AS_KEY, AS_TEXT };

typedef struct {
    PyObject *value; /* NULL: free */
    uint32_t hash;
    unsigned char length;
    unsigned char way; /* AS_VALUE, AS_KEY or AS_TEXT */
    char text[SCALAR_MAX];
} Scalar;

static Scalar *scalars;
static Py_ssize_t scalars_used;

static uint32_t
scalar_hash(yaml_event_t *event, unsigned char way)
{
    uint32_t hash = 2166136261u ^ way; /* FNV-1a */
    if (event->data.scalar.length > SCALAR_MAX)
        return 0; /* not kept: scalar_slot gives none */
    for (size_t i = 0; i < event->data.scalar.length; i++)
        hash = (hash ^ event->data.scalar.value[i]) * 16777619u;
    return hash;
}

/* The slot of the scalar of `event` read `way`, where it is kept, or where it would go: NULL where it is
 * not kept (too long, or no room). */
static Scalar *
scalar_slot(yaml_event_t *event, unsigned char way, uint32_t hash)
{
    size_t length = event->data.scalar.length;
    if (length > SCALAR_MAX)
        return NULL;
    if (scalars == NULL) {
        scalars = PyMem_RawCalloc(SCALAR_SLOTS, sizeof(Scalar));
        if (scalars == NULL)
            return NULL; /* read as if none were kept */
    }
    for (uint32_t index = hash;; index++) {
        Scalar *slot = &scalars[index & (SCALAR_SLOTS - 1)];
        if (slot->value == NULL)
            return scalars_used < SCALAR_FILL ? slot : NULL;
        if (slot->hash == hash && slot->length == length && slot->way == way &&
            !memcmp(slot->text, event->data.scalar.value, length))
            return slot;
    }
}

/* What the scalar of `event` gave before, read `way` (a new reference), or NULL. */
static PyObject *
scalar_known(yaml_event_t *event, unsigned char way, uint32_t hash)
{
    Scalar *slot = scalar_slot(event, way, hash);
    if (slot == NULL || slot->value == NULL)
        return NULL;
    Py_INCREF(slot->value);
    return slot->value;
}

/* Keep `value` (a new reference, or NULL after an error), what the scalar of `event` gives read `way`;
 * returns it. The slot is looked for again: working the value out ran Python code, which may have read
 * other scalars. */
static PyObject *
scalar_keep(yaml_event_t *event, unsigned char way, uint32_t hash, PyObject *value)
{
    Scalar *slot = value == NULL ? NULL : scalar_slot(event, way, hash);
    if (slot != NULL && slot->value == NULL) {
        slot->hash = hash;
        slot->length = (unsigned char)event->data.scalar.length;
        slot->way = way;
        memcpy(slot->text, event->data.scalar.value, event->data.scalar.length);
        Py_INCREF(value);
        slot->value = value;
        scalars_used++;
    }
    return value;
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

/* The text of a scalar that is its text (not typed), kept. */
static PyObject *
scalar_text(yaml_event_t *event)
{
    uint32_t hash = scalar_hash(event, AS_TEXT);
    PyObject *known = scalar_known(event, AS_TEXT, hash);
    return known != NULL ? known : scalar_keep(event, AS_TEXT, hash, text_of(event));
}

static PyObject *
scalar_value(Reader *r, yaml_event_t *event)
{
    switch (tag_kind(event)) {
    case 0:
        if (event->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            uint32_t hash = scalar_hash(event, AS_VALUE);
            PyObject *known = scalar_known(event, AS_VALUE, hash);
            if (known != NULL)
                return known;
            PyObject *text = text_of(event);
            return scalar_keep(event, AS_VALUE, hash, text == NULL ? NULL : resolved(r, text));
        }
        return scalar_text(event);
    case 1:
        return scalar_text(event);
    default: {
        PyObject *text = text_of(event);
        if (text == NULL)
            return NULL;
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
        return scalar_text(event);
    if (event->data.scalar.length == 2 && event->data.scalar.value[0] == '<' && event->data.scalar.value[1] == '<') {
        unusual(r); /* a merge key */
        return NULL;
    }
    uint32_t hash = scalar_hash(event, AS_KEY);
    PyObject *known = scalar_known(event, AS_KEY, hash);
    if (known != NULL)
        return known;
    PyObject *text = text_of(event);
    if (text == NULL)
        return NULL;
    PyObject *key = resolved(r, text);
    if (key != NULL && !PyUnicode_CheckExact(key)) {
        PyObject *written = PyObject_CallOneArg(r->key_text, key);
        Py_DECREF(key);
        key = written;
    }
    return scalar_keep(event, AS_KEY, hash, key);
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
    event_done(r, event);
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
            event_done(r, &event);
            goto fail;
        }
        PyObject *item = build(r, &event, depth + 1);
        event_done(r, &event);
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
            event_done(r, &event);
            unusual(r);
            goto fail;
        }
        if (block_mark(&block, event.start_mark) < 0) {
            event_done(r, &event);
            goto fail;
        }
        PyObject *key = key_value(r, &event);
        event_done(r, &event);
        if (key == NULL)
            goto fail;
        yaml_event_t value_event;
        if (next_event(r, &value_event) < 0) {
            Py_DECREF(key);
            goto fail;
        }
        PyObject *value = build(r, &value_event, depth + 1);
        event_done(r, &value_event);
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
        event_done(r, &event); /* STREAM_START */
        r->started = 1;
    }
    if (next_event(r, &event) < 0)
        return NULL;
    if (event.type == YAML_STREAM_END_EVENT) {
        event_done(r, &event);
        r->ended = 1;
        Py_RETURN_NONE;
    }
    event_done(r, &event); /* DOCUMENT_START */
    if (next_event(r, &event) < 0)
        return NULL;
    yaml_mark_t start = event.start_mark;
    int scalar = event.type == YAML_SCALAR_EVENT;
    r->size = 0;
    PyObject *data = build(r, &event, 0);
    event_done(r, &event);
    if (data == NULL)
        return NULL;
    size_t end_line = r->end_line;
    if (next_event(r, &event) < 0) { /* DOCUMENT_END */
        Py_DECREF(data);
        return NULL;
    }
    event_done(r, &event);
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
    static char *keywords[] = {"text", "cache", "plain", "typed", "key_text", "unusual", "ahead", NULL};
    PyObject *text, *cache, *plain, *typed, *key_text, *unusual_class;
    int ahead = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!OOOO|$p:Reader", keywords, &PyBytes_Type, &text,
                                     &PyDict_Type, &cache, &plain, &typed, &key_text, &unusual_class, &ahead))
        return -1;
    if (r->parser_ready || r->ahead != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Reader initialised twice");
        return -1;
    }
    int started = ahead ? ahead_start(r, text) : 0;
    if (started < 0)
        return -1;
    if (!started) {
        if (!yaml_parser_initialize(&r->parser)) {
            PyErr_NoMemory();
            return -1;
        }
        r->parser_ready = 1;
        yaml_parser_set_input_string(&r->parser, (const unsigned char *)PyBytes_AS_STRING(text),
                                     (size_t)PyBytes_GET_SIZE(text));
    }
    Py_INCREF(text); /* immutable, and kept while the parser reads it */
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
    return 0;
}

static void
Reader_dealloc(Reader *r)
{
    if (r->ahead != NULL)
        ahead_end(r->ahead); /* before the text is let go */
    else if (r->parser_ready)
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

static PyObject *NAME_KEY; /* "name", interned once: every list item a pointer steps into is asked it */

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
    PyObject *name = PyDict_GetItemWithError(item, NAME_KEY); /* borrowed */
    if (name == NULL || !PyUnicode_CheckExact(name) || PyUnicode_GET_LENGTH(name) == 0)
        return NULL; /* the token itself, or an error set */
    Py_ssize_t same = 0, n = PyList_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *other = PyList_GET_ITEM(items, i);
        if (!PyDict_CheckExact(other))
            continue;
        PyObject *other_name = PyDict_GetItemWithError(other, NAME_KEY);
        if (other_name == NULL) {
            if (PyErr_Occurred())
                return NULL;
            continue;
        }
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


/* -- Shared: one object for each structure met again ------------------------------------------------------
 *
 * Manifests repeat themselves: a selector's labels are the pod template's, containers share their security
 * context, probes, resources and ports, and workloads of one chart share most of their pod spec. A scan
 * holds every object it read; a table of the containers seen, by structure, lets each one met again be the
 * one met first (two thirds of the containers of the real corpus, half of a generated repository's).
 * share(root) replaces, in place and bottom-up, each container two levels or more below ``root`` by the
 * first one seen of the same structure: same type, same keys in the same order, the same containers (by
 * identity: they were made the first ones already) and equal scalars of the same type (a float bit for
 * bit). Only str, int, bool, float and None scalars are compared; a container holding anything else is
 * kept as it is. The caller shares only objects nothing writes to afterwards, whose positions walk their
 * structure rather than the identity of their containers (kharden._yaml.Positions laid out). */

#define SHARE_BELOW 2            /* depth (the root is 0) from which containers are shared */
#define SHARED_MAX (1 << 22)      /* containers the table keeps; past it, they are only looked up */

typedef struct {
    PyObject_HEAD
    Py_hash_t *hashes;
    PyObject **values;
    Py_ssize_t mask; /* capacity - 1; capacity a power of two, or 0 */
    Py_ssize_t used;
} Shared;

static int
is_shared_scalar(PyObject *value)
{
    return value == Py_None || PyUnicode_CheckExact(value) || PyLong_CheckExact(value) || PyBool_Check(value) ||
           PyFloat_CheckExact(value);
}

/* -1: error, 0: different, 1: the same scalar */
static int
same_scalar(PyObject *a, PyObject *b)
{
    if (a == b)
        return 1;
    if (Py_TYPE(a) != Py_TYPE(b))
        return 0;
    if (PyFloat_CheckExact(a)) {
        double x = PyFloat_AS_DOUBLE(a), y = PyFloat_AS_DOUBLE(b);
        return memcmp(&x, &y, sizeof x) == 0;
    }
    if (PyBool_Check(a) || a == Py_None)
        return 0; /* singletons, and not the same one */
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

static int
same_value(PyObject *a, PyObject *b)
{
    if (is_container(a) || is_container(b))
        return a == b;
    return same_scalar(a, b);
}

/* -1: error, 0: different, 1: the same structure (``a`` and ``b`` of one type, both made of shared parts) */
static int
same_structure(PyObject *a, PyObject *b)
{
    if (Py_TYPE(a) != Py_TYPE(b))
        return 0;
    if (PyList_CheckExact(a)) {
        Py_ssize_t n = PyList_GET_SIZE(a);
        if (n != PyList_GET_SIZE(b))
            return 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            int same = same_value(PyList_GET_ITEM(a, i), PyList_GET_ITEM(b, i));
            if (same <= 0)
                return same;
        }
        return 1;
    }
    if (PyDict_GET_SIZE(a) != PyDict_GET_SIZE(b))
        return 0;
    Py_ssize_t pa = 0, pb = 0;
    PyObject *ka, *va, *kb, *vb;
    while (PyDict_Next(a, &pa, &ka, &va)) {
        if (!PyDict_Next(b, &pb, &kb, &vb))
            return 0;
        int same = same_scalar(ka, kb);
        if (same > 0)
            same = same_value(va, vb);
        if (same <= 0)
            return same;
    }
    return 1;
}

static Py_hash_t
combine(Py_hash_t hash, Py_hash_t part)
{
    return (Py_hash_t)((Py_uhash_t)hash * 1000003u) ^ part;
}

/* The hash of a value inside a shared container: a container's identity, a scalar's hash and type. 0 and
 * no error: not shareable. */
static Py_hash_t
value_hash(PyObject *value, int *shareable)
{
    if (is_container(value))
        return (Py_hash_t)((uintptr_t)value >> 4);
    if (!is_shared_scalar(value)) {
        *shareable = 0;
        return 0;
    }
    Py_hash_t hash = PyObject_Hash(value);
    if (hash == -1)
        return -1;
    return hash ^ (Py_hash_t)((uintptr_t)Py_TYPE(value) >> 4);
}

static int
shared_grow(Shared *s)
{
    Py_ssize_t capacity = s->mask ? (s->mask + 1) * 2 : 1024;
    Py_hash_t *hashes = PyMem_Calloc((size_t)capacity, sizeof(Py_hash_t));
    PyObject **values = PyMem_Calloc((size_t)capacity, sizeof(PyObject *));
    if (hashes == NULL || values == NULL) {
        PyMem_Free(hashes);
        PyMem_Free(values);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; s->mask && i <= s->mask; i++) {
        if (s->values[i] == NULL)
            continue;
        Py_ssize_t j = (Py_ssize_t)((Py_uhash_t)s->hashes[i] & (Py_uhash_t)(capacity - 1));
        while (values[j] != NULL)
            j = (j + 1) & (capacity - 1);
        hashes[j] = s->hashes[i];
        values[j] = s->values[i];
    }
    PyMem_Free(s->hashes);
    PyMem_Free(s->values);
    s->hashes = hashes;
    s->values = values;
    s->mask = capacity - 1;
    return 0;
}

/* ``node`` with its containers shared (in place), as the one to keep in its parent: the first of its
 * structure when ``depth`` is SHARE_BELOW or more. A new reference; NULL after an error. */
static PyObject *
shared_node(Shared *s, PyObject *node, int depth)
{
    if (depth > MAX_DEPTH) {
        Py_INCREF(node);
        return node;
    }
    int shareable = depth >= SHARE_BELOW;
    Py_hash_t hash = PyList_CheckExact(node) ? 0x3456789 : 0x789abcd;
    if (PyList_CheckExact(node)) {
        Py_ssize_t n = PyList_GET_SIZE(node);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = PyList_GET_ITEM(node, i);
            if (is_container(item)) {
                PyObject *kept = shared_node(s, item, depth + 1);
                if (kept == NULL)
                    return NULL;
                if (kept != item)
                    PyList_SetItem(node, i, kept); /* steals kept, drops item */
                else
                    Py_DECREF(kept);
                item = kept;
            }
            if (shareable) {
                Py_hash_t part = value_hash(item, &shareable);
                if (part == -1 && PyErr_Occurred())
                    return NULL;
                hash = combine(hash, part);
            }
        }
    }
    else {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        /* Values of keys already there may be replaced while the dict is walked (not its keys). */
        while (PyDict_Next(node, &pos, &key, &value)) {
            if (is_container(value)) {
                PyObject *kept = shared_node(s, value, depth + 1);
                if (kept == NULL)
                    return NULL;
                if (kept != value && PyDict_SetItem(node, key, kept) < 0) {
                    Py_DECREF(kept);
                    return NULL;
                }
                Py_DECREF(kept);
                value = kept;
            }
            if (shareable) {
                if (!is_shared_scalar(key)) {
                    shareable = 0;
                    continue;
                }
                Py_hash_t key_hash = PyObject_Hash(key);
                if (key_hash == -1)
                    return NULL;
                Py_hash_t part = value_hash(value, &shareable);
                if (part == -1 && PyErr_Occurred())
                    return NULL;
                hash = combine(combine(hash, key_hash), part);
            }
        }
    }
    if (!shareable) {
        Py_INCREF(node);
        return node;
    }
    if (s->mask == 0 || (s->used + 1) * 3 > (s->mask + 1) * 2) {
        if (s->used >= SHARED_MAX)
            goto lookup_only;
        if (shared_grow(s) < 0)
            return NULL;
    }
lookup_only:;
    Py_ssize_t i = (Py_ssize_t)((Py_uhash_t)hash & (Py_uhash_t)s->mask);
    while (s->values[i] != NULL) {
        if (s->hashes[i] == hash) {
            int same = same_structure(s->values[i], node);
            if (same < 0)
                return NULL;
            if (same) {
                Py_INCREF(s->values[i]);
                return s->values[i];
            }
        }
        i = (i + 1) & s->mask;
    }
    if (s->used < SHARED_MAX) {
        Py_INCREF(node);
        s->values[i] = node;
        s->hashes[i] = hash;
        s->used++;
    }
    Py_INCREF(node);
    return node;
}

static PyObject *
Shared_share(Shared *s, PyObject *root)
{
    if (!is_container(root))
        Py_RETURN_NONE;
    PyObject *kept = shared_node(s, root, 0);
    if (kept == NULL)
        return NULL;
    Py_DECREF(kept); /* the root itself is never replaced (SHARE_BELOW > 0) */
    Py_RETURN_NONE;
}

static Py_ssize_t
Shared_len(Shared *s)
{
    return s->used;
}

static void
Shared_dealloc(Shared *s)
{
    for (Py_ssize_t i = 0; s->mask && i <= s->mask; i++)
        Py_XDECREF(s->values[i]);
    PyMem_Free(s->hashes);
    PyMem_Free(s->values);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

static PyMethodDef Shared_methods[] = {
    {"share", (PyCFunction)Shared_share, METH_O,
     "share(root): each container two levels or more below root made the first one seen of its structure."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods Shared_as_sequence = {
    .sq_length = (lenfunc)Shared_len,
};

static PyTypeObject SharedType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "kharden._yamlc.Shared",
    .tp_basicsize = sizeof(Shared),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The containers of the objects one scan read, one per structure.",
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Shared_dealloc,
    .tp_methods = Shared_methods,
    .tp_as_sequence = &Shared_as_sequence,
};

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
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    NAME_KEY = PyUnicode_InternFromString("name");
    if (NAME_KEY == NULL || PyModule_AddType(m, &ReaderType) < 0 || PyModule_AddType(m, &SharedType) < 0) {
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
    if (pthread_atfork(NULL, NULL, forked) != 0) { /* asking getpid() per chunk cost a system call each */
        Py_DECREF(m);
        PyErr_SetString(PyExc_OSError, "pthread_atfork failed");
        return NULL;
    }
    return m;
}
