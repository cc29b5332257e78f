package datacloudtest

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
)

type metaField struct {
	Name         string `json:"name"`
	DisplayName  string `json:"displayName"`
	Type         string `json:"type"`
	BusinessType string `json:"businessType"`
}

type metaKey struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	IndexOrder  string `json:"indexOrder"`
}

// metaEntity is a data lake object as the metadata API describes it (Postman's DLO shape).
type metaEntity struct {
	Fields      []metaField `json:"fields"`
	Category    string      `json:"category"`
	Name        string      `json:"name"`
	DisplayName string      `json:"displayName"`
	PrimaryKeys []metaKey   `json:"primaryKeys"`
}

var (
	entityTypes      = []string{"DataLakeObject", "DataModelObject", "CalculatedInsight"}
	entityCategories = []string{"Profile", "Engagement", "Related"}
	// metadata field type and business type per column type.
	metaTypes = map[string][2]string{
		typeVarchar:   {"STRING", "TEXT"},
		typeDecimal:   {"NUMBER", "NUMBER"},
		typeTimestamp: {"DATE_TIME", "DATE_TIME"},
		typeBoolean:   {"BOOLEAN", "BOOLEAN"},
	}
)

// displayName turns "first_name__c" into "first name".
func displayName(name string) string {
	return strings.ReplaceAll(strings.TrimSuffix(name, "__c"), "_", " ")
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request, _ *token) {
	q := r.URL.Query()
	etype, ename, ecat := q.Get("entityType"), q.Get("entityName"), q.Get("entityCategory")
	if etype != "" && !slices.Contains(entityTypes, etype) {
		s.springErrorf(w, http.StatusBadRequest, "invalid entityType %q: must be one of %s", etype, strings.Join(entityTypes, ", "))
		return
	}
	if ecat != "" && !slices.Contains(entityCategories, ecat) {
		s.springErrorf(w, http.StatusBadRequest, "invalid entityCategory %q: must be one of %s", ecat, strings.Join(entityCategories, ", "))
		return
	}
	out := []metaEntity{}
	s.mu.Lock()
	s.advanceJobsLocked()
	if etype == "" || etype == "DataLakeObject" {
		for _, o := range s.objects {
			cat := cmp.Or(s.opts.Objects[o.name].Category, "Profile")
			if (ename != "" && !strings.EqualFold(ename, o.name)) || (ecat != "" && ecat != cat) {
				continue
			}
			e := metaEntity{Category: cat, Name: o.name, DisplayName: displayName(o.name), Fields: []metaField{}}
			for _, c := range o.cols {
				t := metaTypes[c.typ]
				e.Fields = append(e.Fields, metaField{Name: c.name, DisplayName: displayName(c.name), Type: t[0], BusinessType: t[1]})
			}
			e.PrimaryKeys = []metaKey{{Name: o.pk, DisplayName: displayName(o.pk), IndexOrder: "1"}}
			out = append(out, e)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b metaEntity) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, map[string]any{"metadata": out})
}
