package console

import (
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/invitd/invitd/invite"
)

// settingField is one setting as the form shows it; the fields come from
// invite.Settings itself, so that every setting, with its documentation,
// is on the page.
type settingField struct {
	Name, Help, Value string
	List              bool // a list, one item per line
	Number            bool
}

// settingFields lists o's settings, with the values posted in form (a
// refused save) in place of the stored ones when form is set.
func settingFields(st invite.Settings, form map[string][]string) []settingField {
	var out []settingField
	v := reflect.ValueOf(st)
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		sf := settingField{Name: name, Help: f.Tag.Get("doc")}
		switch fv := v.Field(i); fv.Kind() {
		case reflect.Int, reflect.Int64:
			sf.Number, sf.Value = true, strconv.FormatInt(fv.Int(), 10)
		case reflect.String:
			sf.Value = fv.String()
		case reflect.Slice:
			sf.List, sf.Value = true, strings.Join(fv.Interface().([]string), "\n")
		default:
			continue
		}
		if vs, ok := form[name]; ok && len(vs) > 0 {
			sf.Value = vs[0]
		}
		out = append(out, sf)
	}
	return out
}

// settingsPatch reads the form into a patch of every setting it holds; a
// number that is not one is refused naming its field.
func settingsPatch(form map[string][]string) (*invite.SettingsPatch, error) {
	p := &invite.SettingsPatch{}
	v := reflect.ValueOf(p).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		vs, ok := form[name]
		if !ok || len(vs) == 0 {
			continue
		}
		raw := strings.TrimSpace(vs[0])
		ptr := reflect.New(f.Type.Elem())
		switch f.Type.Elem().Kind() {
		case reflect.Int, reflect.Int64:
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return nil, invite.Invalid("%s must be a whole number", name)
			}
			ptr.Elem().SetInt(n)
		case reflect.String:
			ptr.Elem().SetString(raw)
		case reflect.Slice:
			items := []string{}
			for _, s := range splitList(raw) {
				items = append(items, s)
			}
			ptr.Elem().Set(reflect.ValueOf(items))
		default:
			continue
		}
		v.Field(i).Set(ptr)
	}
	return p, nil
}

func (h *handler) settings(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, false, "settings")
	if q == nil {
		return
	}
	h.settingsPage(w, r, q, http.StatusOK, nil)
}

func (h *handler) settingsPage(w http.ResponseWriter, r *http.Request, q *request, status int, form map[string][]string) {
	name := q.v.Org.Name
	if form != nil {
		name = r.PostForm.Get("name")
	}
	q.v.Title, q.v.Status = "Settings", status
	q.v.Data = struct {
		Name   string
		Fields []settingField
	}{name, settingFields(q.v.Org.Settings, form)}
	h.render(w, r, "settings", q.v)
}

func (h *handler) saveSettings(w http.ResponseWriter, r *http.Request) {
	q := h.inOrg(w, r, true, "settings")
	if q == nil {
		return
	}
	patch, err := settingsPatch(r.PostForm)
	if err == nil {
		name := r.PostForm.Get("name")
		_, err = h.svc.UpdateOrg(q.ctx, q.org, &name, patch)
	}
	if status, msg, ok := refused(err); ok {
		q.v.Error = msg
		h.settingsPage(w, r, q, status, r.PostForm)
		return
	}
	if err != nil {
		h.failErr(w, r, q.v, err)
		return
	}
	h.done(w, r, q.v.OrgBase+"/settings", "saved")
}
