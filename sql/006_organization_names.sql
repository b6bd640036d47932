-- Organization names are unique up to case and Unicode normalization: "Acme", "ACME" and
-- "Acme" written with a decomposed accent are one organization. tenderd compares names by
-- their NFC case folding (common/text.c) and a registration whose organization name folds
-- like an existing one joins that organization; this index keeps the table honest as well.
--
-- lower() folds by the database's locale (ASCII only under the C locale): the index is a
-- backstop, tenderd's own comparison is the full one.
--
-- Existing names that clash are not merged silently: the migration stops and names them.
-- Rename one of each pair (or move its participants to the other organization), then run
-- `tenderd migrate` again.
DO $$
DECLARE
    clashes text;
BEGIN
    SELECT string_agg(names, '; ') INTO clashes
    FROM (SELECT string_agg(format('%s (id %s)', quote_literal(name), id), ' and ' ORDER BY id)
              AS names
          FROM organizations
          GROUP BY lower(normalize(name, NFC))
          HAVING count(*) > 1) AS c;
    IF clashes IS NOT NULL THEN
        RAISE EXCEPTION 'organizations whose names differ only in case or Unicode normalization: %; '
            'rename one of each (UPDATE organizations SET name = ... WHERE id = ...) or move its '
            'participants to the other, then run tenderd migrate again', clashes;
    END IF;
END
$$;

CREATE UNIQUE INDEX organizations_name_folded ON organizations (lower(normalize(name, NFC)));
