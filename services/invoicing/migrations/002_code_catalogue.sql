-- The code catalogue: which procedure, diagnosis and tariff codes may be billed, and on which
-- dates. Operators load it from code files (services/invoicing/codes/README.md); it is not derived
-- from events, so it is not rebuilt from the log: an import replaces a system's codes and is
-- recorded in catalogue_imports.

-- One row per period in which a code may be billed; a code retired and reinstated, or reworded,
-- has several. The primary key's index serves every lookup: by (system, code), all of a code's
-- periods in order.
CREATE TABLE catalogue_codes (
    system       text NOT NULL,  -- HCPCS, CPT, ICD-10-CM or tariff:<name>
    code         text NOT NULL,  -- canonical: upper case, ICD-10-CM with its dot
    description  text NOT NULL,
    valid_from   date NOT NULL,
    valid_to     date,           -- the last day it may be billed; NULL while in use
    PRIMARY KEY (system, code, valid_from),
    CHECK (valid_to IS NULL OR valid_to >= valid_from),
    -- Lookups compare the dotted form (J06.9, never J069), so an undotted code could never be
    -- found: refuse it here rather than lose it there.
    CHECK (system <> 'ICD-10-CM' OR code ~ '^[A-Z][0-9][A-Z0-9](\.[A-Z0-9]{1,4})?$')
);

-- Every import, including one that changed nothing: what was loaded, from where, and when.
-- sha256 is of the imported codes in a canonical form, so the same codes give the same digest
-- whatever the file's quoting, line endings or row order.
CREATE TABLE catalogue_imports (
    import_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system       text NOT NULL,
    source_name  text NOT NULL,
    code_count   integer NOT NULL,  -- rows imported: one per code and period
    added        integer NOT NULL,
    changed      integer NOT NULL,
    removed      integer NOT NULL,
    sha256       text NOT NULL,
    imported_at  timestamptz NOT NULL
);
CREATE INDEX catalogue_imports_by_system ON catalogue_imports (system, imported_at DESC, import_id DESC);
