import dxf.main
dxf.main.main()
