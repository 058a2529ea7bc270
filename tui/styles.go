package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles are every colour and text style the TUI uses, in one place, built
// for a light or a dark terminal background.
type Styles struct {
	Dark bool

	Accent    color.Color
	Muted     color.Color
	Good, Bad color.Color

	Header     lipgloss.Style
	HeaderDim  lipgloss.Style
	User       lipgloss.Style // "You" label
	Assistant  lipgloss.Style // model label
	Body       lipgloss.Style
	Dim        lipgloss.Style
	SelectBar  lipgloss.Style // the bar left of the selected message
	Up, Down   lipgloss.Style // rating marks
	Stopped    lipgloss.Style
	Status     lipgloss.Style
	StatusKey  lipgloss.Style
	Error      lipgloss.Style
	Notice     lipgloss.Style
	Separator  lipgloss.Style
	Title      lipgloss.Style
	Key        lipgloss.Style // key names in help
	Selected   lipgloss.Style // selected row in lists
	Box        lipgloss.Style // dialogs
	Pane       lipgloss.Style // compare panes
	PaneActive lipgloss.Style
}

// NewStyles returns the styles for a dark (true) or light background.
func NewStyles(dark bool) Styles {
	ld := lipgloss.LightDark(dark)
	accent := ld(lipgloss.Color("#5A3FC0"), lipgloss.Color("#A58BFF"))
	muted := ld(lipgloss.Color("#6B6B6B"), lipgloss.Color("#8A8A8A"))
	good := ld(lipgloss.Color("#1F7A1F"), lipgloss.Color("#6BD66B"))
	bad := ld(lipgloss.Color("#B3261E"), lipgloss.Color("#FF7A70"))
	fg := ld(lipgloss.Color("#1A1A1A"), lipgloss.Color("#E6E6E6"))
	userC := ld(lipgloss.Color("#00589E"), lipgloss.Color("#6CC3FF"))
	selBG := ld(lipgloss.Color("#E4DEFA"), lipgloss.Color("#3A2F66"))
	s := Styles{Dark: dark, Accent: accent, Muted: muted, Good: good, Bad: bad}
	s.Header = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.HeaderDim = lipgloss.NewStyle().Foreground(muted)
	s.User = lipgloss.NewStyle().Bold(true).Foreground(userC)
	s.Assistant = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Body = lipgloss.NewStyle().Foreground(fg)
	s.Dim = lipgloss.NewStyle().Foreground(muted)
	s.SelectBar = lipgloss.NewStyle().Foreground(accent)
	s.Up = lipgloss.NewStyle().Foreground(good)
	s.Down = lipgloss.NewStyle().Foreground(bad)
	s.Stopped = lipgloss.NewStyle().Italic(true).Foreground(muted)
	s.Status = lipgloss.NewStyle().Foreground(muted)
	s.StatusKey = lipgloss.NewStyle().Foreground(accent)
	s.Error = lipgloss.NewStyle().Foreground(bad)
	s.Notice = lipgloss.NewStyle().Foreground(good)
	s.Separator = lipgloss.NewStyle().Foreground(muted)
	s.Title = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Key = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Selected = lipgloss.NewStyle().Background(selBG).Foreground(fg)
	s.Box = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1)
	s.Pane = lipgloss.NewStyle().Border(lipgloss.NormalBorder()).BorderForeground(muted).Padding(0, 1)
	s.PaneActive = lipgloss.NewStyle().Border(lipgloss.ThickBorder()).BorderForeground(accent).Padding(0, 1)
	return s
}
