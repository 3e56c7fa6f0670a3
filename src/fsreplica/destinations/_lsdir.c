/* Optional C extension: list an open directory with each entry's lstat, in one call.
 *
 * A reconcile lists every directory of a local destination; in Python each entry costs a
 * DirEntry, a stat_result and their attribute lookups, several times the lstat itself. Here
 * the directory is read and every entry but a directory lstat'ed without the GIL, and the
 * result handed back as tuples. `_lsdir.py`'s Python version gives the same answers where this
 * is not built.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    size_t name;      /* offset of the name in the names buffer */
    size_t len;       /* its length */
    long long mode;   /* st_mode, or -1 when the lstat failed (then size is the errno) */
    long long size;
    long long mtime_ns;
} entry_t;

typedef struct {
    entry_t *items;
    size_t count, cap;
    char *names;
    size_t used, room;
} listing_t;

static void listing_free(listing_t *l) {
    free(l->items);
    free(l->names);
}

/* Append one entry; 0 on success, -1 when out of memory. */
static int listing_add(listing_t *l, const char *name, size_t len, long long mode,
                       long long size, long long mtime_ns) {
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        entry_t *items = realloc(l->items, cap * sizeof *items);
        if (items == NULL) return -1;
        l->items = items;
        l->cap = cap;
    }
    if (l->used + len > l->room) {
        size_t room = l->room ? l->room * 2 : 16384;
        while (room < l->used + len) room *= 2;
        char *names = realloc(l->names, room);
        if (names == NULL) return -1;
        l->names = names;
        l->room = room;
    }
    memcpy(l->names + l->used, name, len);
    entry_t *e = &l->items[l->count++];
    e->name = l->used;
    e->len = len;
    e->mode = mode;
    e->size = size;
    e->mtime_ns = mtime_ns;
    l->used += len;
    return 0;
}

/* Read `dir` whole; 0, or an errno (readdir failed) or -1 (out of memory). No GIL held. */
static int read_all(DIR *dir, listing_t *l) {
    int fd = dirfd(dir);
    for (;;) {
        errno = 0;
        struct dirent *d = readdir(dir);
        if (d == NULL) return errno;
        const char *name = d->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
        size_t len = strlen(name);
        long long mode, size = 0, mtime_ns = 0;
        if (d->d_type == DT_DIR) {
            mode = S_IFDIR; /* the listing says so: no lstat, as os.scandir's is_dir */
        } else {
            struct stat st;
            if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT) continue; /* removed since it was listed */
                mode = -1;
                size = errno;
            } else {
                mode = st.st_mode;
                size = st.st_size;
                mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
            }
        }
        if (listing_add(l, name, len, mode, size, mtime_ns) != 0) return -1;
    }
}

static PyObject *entries(PyObject *self, PyObject *arg) {
    int fd = PyObject_AsFileDescriptor(arg);
    if (fd < 0) return NULL;
    /* fdopendir takes the fd over (closedir closes it): give it a copy, at offset 0. */
    int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) return PyErr_SetFromErrno(PyExc_OSError);
    DIR *dir = fdopendir(own);
    if (dir == NULL) {
        int err = errno;
        close(own);
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    listing_t l = {0};
    int err;
    Py_BEGIN_ALLOW_THREADS
    rewinddir(dir); /* the copy shares the original's offset */
    err = read_all(dir, &l);
    closedir(dir);
    Py_END_ALLOW_THREADS
    if (err != 0) {
        listing_free(&l);
        if (err == -1) return PyErr_NoMemory();
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *out = PyList_New((Py_ssize_t)l.count);
    if (out == NULL) {
        listing_free(&l);
        return NULL;
    }
    for (size_t i = 0; i < l.count; i++) {
        entry_t *e = &l.items[i];
        PyObject *item = Py_BuildValue(
            "(NLLL)", PyUnicode_DecodeFSDefaultAndSize(l.names + e->name, (Py_ssize_t)e->len),
            e->mode, e->size, e->mtime_ns);
        if (item == NULL) {
            Py_DECREF(out);
            listing_free(&l);
            return NULL;
        }
        PyList_SET_ITEM(out, (Py_ssize_t)i, item);
    }
    listing_free(&l);
    return out;
}

static PyMethodDef methods[] = {
    {"entries", entries, METH_O,
     "entries(dir_fd) -> [(name, mode, size, mtime_ns)]: every entry of the open directory "
     "but . and .., lstat'ed (a directory: mode S_IFDIR only; a failed lstat: mode -1 and "
     "size its errno; an entry gone before its lstat is left out)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_lsdir", "List a directory with each entry's lstat.", -1, methods,
};

PyMODINIT_FUNC PyInit__lsdir(void) { return PyModule_Create(&module); }
