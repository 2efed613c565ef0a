package fs

// Vol returns the volume number of f, under which its metadata keys live.
func (f *FileSystem) Vol() uint64 { return f.rec.Vol }
